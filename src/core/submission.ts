import { type BackoffPolicy, MAX_DELAY_MS, parseBackoff } from "./backoff.js";
import { InvalidArgumentError, PayloadTooLargeError } from "./errors.js";
import { assertJsonDepth } from "./json-guard.js";

// A task submission as every entry point (library, CLI, REST, gRPC) receives it, and the single
// validator they all share. Field names are the wire names (snake_case) so that the same object
// travels from an HTTP body to the broker envelope without renaming. Unknown fields are refused:
// a typo such as `max_retry` must not silently mean "use the default".

export interface TaskSubmission {
  function_key: string;
  payload?: unknown;
  queue?: string;
  /** 0–9, higher runs first; default 5. */
  priority?: number;
  timeout_ms?: number;
  max_retries?: number;
  backoff?: BackoffPolicy;
  delay_ms?: number;
  /** ISO 8601 instant; an alternative to delay_ms. */
  run_at?: string;
  /** Recorded with the task for callers' own de-duplication (GoTaskQ does not dedupe yet). */
  idempotency_key?: string;
  metadata?: Record<string, string>;
}

/** A submission with every default applied except those a worker resolves from its registry. */
export interface ValidSubmission {
  function_key: string;
  payload: unknown;
  queue: string;
  priority: number;
  timeout_ms?: number;
  max_retries?: number;
  backoff?: BackoffPolicy;
  delay_ms: number;
  idempotency_key?: string;
  metadata: Record<string, string>;
}

export const FUNCTION_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const QUEUE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const DEFAULT_QUEUE = "default";
export const DEFAULT_PRIORITY = 5;
export const MAX_PRIORITY = 9;
export const MAX_RETRIES_LIMIT = 100;
/** One day: long tasks beyond this belong in several tasks (and SQS caps visibility at 12 h). */
export const MAX_TIMEOUT_MS = 86_400_000;

const FIELDS = new Set([
  "function_key",
  "payload",
  "queue",
  "priority",
  "timeout_ms",
  "max_retries",
  "backoff",
  "delay_ms",
  "run_at",
  "idempotency_key",
  "metadata",
]);

export interface SubmissionLimits {
  /** Largest encoded payload accepted, in bytes (default 1 MiB, never above the broker's limit). */
  maxPayloadBytes: number;
  now?: () => number;
}

function integer(
  v: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number | undefined {
  const raw = v[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "number" || !Number.isInteger(raw) || raw < min || raw > max) {
    throw new InvalidArgumentError(
      `${key} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)})`,
    );
  }
  return raw;
}

function checkedString(
  v: Record<string, unknown>,
  key: string,
  pattern: RegExp,
  hint: string,
): string | undefined {
  const raw = v[key];
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw !== "string" || !pattern.test(raw)) {
    throw new InvalidArgumentError(
      `${key} must match ${hint} (got ${JSON.stringify(raw)?.slice(0, 140)})`,
    );
  }
  return raw;
}

function metadataOf(raw: unknown): Record<string, string> {
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new InvalidArgumentError('metadata must be an object of strings, e.g. {"tenant":"acme"}');
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > 32)
    throw new InvalidArgumentError(`metadata may hold at most 32 keys (got ${entries.length})`);
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of entries) {
    if (key.length > 64 || key === "__proto__" || key === "constructor" || key === "prototype") {
      throw new InvalidArgumentError(
        `metadata key ${JSON.stringify(key.slice(0, 80))} is not allowed (at most 64 characters, not __proto__/constructor/prototype)`,
      );
    }
    if (typeof value !== "string" || value.length > 1024) {
      throw new InvalidArgumentError(`metadata.${key} must be a string of at most 1024 characters`);
    }
    out[key] = value;
  }
  return { ...out };
}

function delayOf(v: Record<string, unknown>, now: number): number {
  const delay = integer(v, "delay_ms", 0, MAX_DELAY_MS);
  const runAt = v.run_at;
  if (runAt !== undefined && runAt !== null) {
    if (delay !== undefined)
      throw new InvalidArgumentError("give either delay_ms or run_at, not both");
    const at = typeof runAt === "string" ? Date.parse(runAt) : Number.NaN;
    if (!Number.isFinite(at)) {
      throw new InvalidArgumentError(
        `run_at must be an ISO 8601 instant such as 2026-12-01T09:00:00Z (got ${JSON.stringify(runAt)})`,
      );
    }
    const ms = Math.max(0, at - now);
    if (ms > MAX_DELAY_MS)
      throw new InvalidArgumentError(
        `run_at must be within ${MAX_DELAY_MS / 86_400_000} days from now`,
      );
    return ms;
  }
  return delay ?? 0;
}

/** Validates and normalises one submission; throws InvalidArgumentError naming what to change. */
export function validateSubmission(input: unknown, limits: SubmissionLimits): ValidSubmission {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError(
      'a task must be a JSON object such as {"function_key":"demo.echo","payload":{}}',
    );
  }
  const v = input as Record<string, unknown>;
  for (const key of Object.keys(v)) {
    if (!FIELDS.has(key)) {
      throw new InvalidArgumentError(
        `unknown field ${JSON.stringify(key)}; allowed fields: ${[...FIELDS].join(", ")}`,
      );
    }
  }
  const functionKey = checkedString(
    v,
    "function_key",
    FUNCTION_KEY_PATTERN,
    "^[A-Za-z0-9_.:-]{1,128}$",
  );
  if (functionKey === undefined)
    throw new InvalidArgumentError('function_key is required, e.g. "email.send"');
  const payload = v.payload === undefined ? {} : v.payload;
  assertJsonDepth(payload, "payload");
  const bytes = Buffer.byteLength(JSON.stringify(payload) ?? "null");
  if (bytes > limits.maxPayloadBytes) {
    throw new PayloadTooLargeError(
      `payload is ${bytes} bytes; the limit is ${limits.maxPayloadBytes} bytes (JSON-encoded); send a smaller payload`,
      limits.maxPayloadBytes,
    );
  }
  const idem = v.idempotency_key;
  if (
    idem !== undefined &&
    idem !== null &&
    (typeof idem !== "string" || idem.length === 0 || idem.length > 200)
  ) {
    throw new InvalidArgumentError("idempotency_key must be a string of 1 to 200 characters");
  }
  const timeout = integer(v, "timeout_ms", 1, MAX_TIMEOUT_MS);
  const retries = integer(v, "max_retries", 0, MAX_RETRIES_LIMIT);
  return {
    function_key: functionKey,
    payload,
    queue: checkedString(v, "queue", QUEUE_PATTERN, "^[A-Za-z0-9_.:-]{1,64}$") ?? DEFAULT_QUEUE,
    priority: integer(v, "priority", 0, MAX_PRIORITY) ?? DEFAULT_PRIORITY,
    ...(timeout !== undefined ? { timeout_ms: timeout } : {}),
    ...(retries !== undefined ? { max_retries: retries } : {}),
    ...(v.backoff !== undefined && v.backoff !== null ? { backoff: parseBackoff(v.backoff) } : {}),
    delay_ms: delayOf(v, (limits.now ?? Date.now)()),
    ...(typeof idem === "string" ? { idempotency_key: idem } : {}),
    metadata: metadataOf(v.metadata),
  };
}

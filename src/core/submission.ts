import { type BackoffPolicy, MAX_DELAY_MS } from "./backoff.js";
import { InvalidArgumentError, PayloadTooLargeError } from "./errors.js";
import {
  type CheckedFields,
  checkFields,
  DEFAULT_IDEMPOTENCY_TTL_MS,
  DEFAULT_PRIORITY,
  DEFAULT_QUEUE,
} from "./submission-fields.js";
import type { UniqueOption, UniqueUntil } from "./submission-identity.js";

// A task submission as every entry point (library, CLI, REST, gRPC) receives it, and the single
// validator they all share (the Producer runs it; the REST API documents the same fields from
// submission-fields.ts instead of checking them again). Field names are the wire names
// (snake_case) so that the same object travels from an HTTP body to the broker envelope without
// renaming. Unknown fields are refused: a typo such as `max_retry` must not silently mean "use the
// default".

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
  /** Same key + same submission within the TTL → the first task's id, marked duplicate. */
  idempotency_key?: string;
  /** How long the key is remembered (ms); default 24 h. */
  idempotency_ttl_ms?: number;
  metadata?: Record<string, string>;
  /** At most one task per key while queued (or until it ends); see UniqueOption. */
  unique?: { key?: string; until?: UniqueUntil; ttl_ms?: number };
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
  /** Set exactly when idempotency_key is. */
  idempotency_ttl_ms?: number;
  metadata: Record<string, string>;
  unique?: UniqueOption;
  /** delay_ms or run_at as given (not resolved against the clock): part of the fingerprint. */
  requested_delay?: { delay_ms: number } | { run_at: string };
}

export {
  DEFAULT_PRIORITY,
  DEFAULT_QUEUE,
  FUNCTION_KEY_PATTERN,
  MAX_PRIORITY,
  MAX_RETRIES_LIMIT,
  MAX_TIMEOUT_MS,
  QUEUE_PATTERN,
} from "./submission-fields.js";

export interface SubmissionLimits {
  /** Largest encoded payload accepted, in bytes (default 1 MiB, never above the broker's limit). */
  maxPayloadBytes: number;
  now?: () => number;
}

function delayOf(fields: CheckedFields, now: number): number {
  if (fields.run_at === undefined) return fields.delay_ms ?? 0;
  if (fields.delay_ms !== undefined) {
    throw new InvalidArgumentError("give either delay_ms or run_at, not both");
  }
  const ms = Math.max(0, fields.run_at - now);
  if (ms > MAX_DELAY_MS) {
    throw new InvalidArgumentError(
      `run_at must be within ${MAX_DELAY_MS / 86_400_000} days from now`,
    );
  }
  return ms;
}

function checkPayloadSize(payload: unknown, maxPayloadBytes: number): void {
  const bytes = Buffer.byteLength(JSON.stringify(payload) ?? "null");
  if (bytes > maxPayloadBytes) {
    throw new PayloadTooLargeError(
      `payload is ${bytes} bytes; the limit is ${maxPayloadBytes} bytes (JSON-encoded); send a smaller payload`,
      maxPayloadBytes,
    );
  }
}

/**
 * Validates and normalises one submission: every field by its row in SUBMISSION_FIELDS, then the
 * rules that span fields or depend on the caller (payload limit, delay_ms xor run_at). Throws
 * InvalidArgumentError (PayloadTooLargeError for the size) naming what to change.
 */
export function validateSubmission(input: unknown, limits: SubmissionLimits): ValidSubmission {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new InvalidArgumentError(
      'a task must be a JSON object such as {"function_key":"demo.echo","payload":{}}',
    );
  }
  const fields = checkFields(input as Record<string, unknown>);
  const payload = fields.payload === undefined ? {} : fields.payload;
  checkPayloadSize(payload, limits.maxPayloadBytes);
  const { timeout_ms, max_retries, backoff, idempotency_key, unique } = fields;
  const raw = input as Record<string, unknown>;

  return {
    function_key: fields.function_key as string,
    payload,
    queue: fields.queue ?? DEFAULT_QUEUE,
    priority: fields.priority ?? DEFAULT_PRIORITY,
    ...(timeout_ms !== undefined ? { timeout_ms } : {}),
    ...(max_retries !== undefined ? { max_retries } : {}),
    ...(backoff !== undefined ? { backoff } : {}),
    delay_ms: delayOf(fields, (limits.now ?? Date.now)()),
    ...(idempotency_key !== undefined
      ? {
          idempotency_key,
          idempotency_ttl_ms: fields.idempotency_ttl_ms ?? DEFAULT_IDEMPOTENCY_TTL_MS,
        }
      : {}),
    metadata: fields.metadata ?? {},
    ...(unique !== undefined ? { unique } : {}),
    ...(fields.run_at !== undefined
      ? { requested_delay: { run_at: String(raw.run_at) } }
      : fields.delay_ms
        ? { requested_delay: { delay_ms: fields.delay_ms } }
        : {}),
  };
}

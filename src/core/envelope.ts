import { type BackoffPolicy, parseBackoff } from "./backoff.js";
import { InvalidArgumentError } from "./errors.js";
import { parseJsonSafe } from "./json-guard.js";
import {
  DEFAULT_PRIORITY,
  FUNCTION_KEY_PATTERN,
  MAX_PRIORITY,
  QUEUE_PATTERN,
} from "./submission.js";
import type { UniqueUntil } from "./submission-identity.js";

// The broker message body, version 1: one UTF-8 JSON object. Forward compatible: decoding ignores
// fields it does not know, so a newer producer can add fields without breaking older workers.
// Everything a worker needs to decide (attempt, retries, backoff, timeout) travels here: workers
// never read the tracking store.

export interface TaskEnvelope {
  v: 1;
  id: string;
  function_key: string;
  payload: unknown;
  queue: string;
  priority: number;
  /** 0-based retry counter within this run. */
  attempt: number;
  /** 0-based requeue counter: a requeue from the DLQ starts run + 1 at attempt 0. */
  run: number;
  max_retries?: number;
  timeout_ms?: number;
  backoff?: BackoffPolicy;
  created_at: string;
  /**
   * ISO instant this run was requeued (absent on run 0). A revocation issued before it targeted
   * an earlier run, so workers do not apply it to this one (cancel, then requeue, must run).
   */
  requeued_at?: string;
  metadata: Record<string, string>;
  idempotency_key?: string;
  /**
   * The unique key this task holds in the coordination store, for the worker to release when
   * the task starts ("started") or ends ("finished"). Only unique tasks carry it, and only they
   * make a worker touch the coordination store.
   */
  unique?: { key: string; until: UniqueUntil };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function encodeEnvelope(envelope: TaskEnvelope): Uint8Array {
  return encoder.encode(JSON.stringify(envelope));
}

function nonNegativeInt(value: unknown, field: string, fallback?: number): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) {
    throw new InvalidArgumentError(
      `envelope field ${field} must be a non-negative integer (got ${JSON.stringify(v)})`,
    );
  }
  return v;
}

/** Decodes a message body; throws InvalidArgumentError (→ DLQ `decode_error`) when it cannot. */
export function decodeEnvelope(body: Uint8Array): TaskEnvelope {
  let raw: unknown;
  try {
    raw = parseJsonSafe(decoder.decode(body));
  } catch (error) {
    throw new InvalidArgumentError(`message body is not UTF-8 JSON: ${(error as Error).message}`);
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError("message body is not a JSON object");
  }
  const m = raw as Record<string, unknown>;
  if (m.v !== 1)
    throw new InvalidArgumentError(
      `unsupported envelope version ${JSON.stringify(m.v)} (this worker reads v1)`,
    );
  if (typeof m.id !== "string" || m.id.length === 0)
    throw new InvalidArgumentError("envelope has no id");
  if (typeof m.function_key !== "string" || !FUNCTION_KEY_PATTERN.test(m.function_key)) {
    throw new InvalidArgumentError(
      `envelope function_key is invalid (${JSON.stringify(m.function_key)})`,
    );
  }
  const queue = typeof m.queue === "string" && QUEUE_PATTERN.test(m.queue) ? m.queue : "default";
  const priority = nonNegativeInt(m.priority, "priority", DEFAULT_PRIORITY);
  const metadata: Record<string, string> = {};
  if (typeof m.metadata === "object" && m.metadata !== null) {
    const given = m.metadata as Record<string, unknown>;
    for (const k of Object.keys(given)) {
      const val = given[k];
      if (typeof val === "string") metadata[k] = val;
    }
  }
  // One literal, optional fields assigned after: every delivery is decoded, and spreading
  // conditional partial objects costs several times more.
  const envelope: TaskEnvelope = {
    v: 1,
    id: m.id,
    function_key: m.function_key,
    payload: m.payload === undefined ? {} : m.payload,
    queue,
    priority: Math.min(priority, MAX_PRIORITY),
    attempt: nonNegativeInt(m.attempt, "attempt", 0),
    run: nonNegativeInt(m.run, "run", 0),
    created_at: typeof m.created_at === "string" ? m.created_at : new Date(0).toISOString(),
    metadata,
  };
  if (m.max_retries !== undefined)
    envelope.max_retries = nonNegativeInt(m.max_retries, "max_retries");
  if (m.timeout_ms !== undefined) envelope.timeout_ms = nonNegativeInt(m.timeout_ms, "timeout_ms");
  if (m.backoff !== undefined) envelope.backoff = parseBackoff(m.backoff, "envelope backoff");
  if (typeof m.requeued_at === "string") envelope.requeued_at = m.requeued_at;
  if (typeof m.idempotency_key === "string") envelope.idempotency_key = m.idempotency_key;
  const unique = m.unique as Record<string, unknown> | null | undefined;
  if (
    typeof unique === "object" &&
    unique !== null &&
    typeof unique.key === "string" &&
    (unique.until === "started" || unique.until === "finished")
  ) {
    envelope.unique = { key: unique.key, until: unique.until };
  }
  return envelope;
}

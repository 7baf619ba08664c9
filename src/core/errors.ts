// Errors: one base class carrying a stable code, plus tiny named classes for control flow.
// Transports (REST, gRPC, CLI) map `code` to their own statuses in one table; adapters translate
// backend errors into these once, at their boundary, so no SDK error escapes a seam.

export type ErrorCode =
  | "invalid_argument" // the caller sent something wrong; the message says what to change
  | "not_found"
  | "conflict" // the request is valid but the current state forbids it (e.g. requeue without payload)
  | "idempotency_key_reused" // an idempotency key came back with a different submission
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted" // too large, too many, rate limited
  | "unavailable" // a backend (broker, tracking store) cannot be reached; retry later
  | "deadline_exceeded"
  | "canceled"
  | "permanent" // a handler said: do not retry this
  | "internal";

/** Names of an error's GoTaskQ classes, most derived first; shared by every copy of this module. */
const CLASS_CHAIN = Symbol.for("gotaskq.error.classes");

export class GoTaskQError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
    const chain: string[] = [];
    for (
      let c: unknown = new.target;
      typeof c === "function" && c !== Error;
      c = Object.getPrototypeOf(c)
    ) {
      chain.push((c as { name: string }).name);
    }
    Object.defineProperty(this, CLASS_CHAIN, { value: chain });
  }

  /**
   * `instanceof` that also recognises errors from another copy of GoTaskQ: a task module loaded
   * through tsx, or one that bundles its own `gotaskq`, throws a `PermanentError` whose class is
   * not this one. The check falls back to the class names recorded at construction.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass asked about, not GoTaskQError
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const chain =
      typeof value === "object" && value !== null
        ? (value as Record<symbol, unknown>)[CLASS_CHAIN]
        : undefined;
    // biome-ignore lint/complexity/noThisInStatic: as above, the subclass's own name
    return Array.isArray(chain) && chain.includes(this.name);
  }
}

/** Thrown by a handler to fail the task at once: no retry, straight to the DLQ (`permanent_error`). */
export class PermanentError extends GoTaskQError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("permanent", message, options);
  }
}

/** The attempt ran past its `timeout_ms`. Retryable. */
export class TimeoutError extends GoTaskQError {
  constructor(message: string) {
    super("deadline_exceeded", message);
  }
}

/** The task was revoked (cancelled) before or while it ran. Never retried. */
export class CanceledError extends GoTaskQError {
  constructor(message: string) {
    super("canceled", message);
  }
}

/** Input that a caller can fix; the message names the field, the rule and what was received. */
export class InvalidArgumentError extends GoTaskQError {
  constructor(message: string) {
    super("invalid_argument", message);
  }
}

/**
 * The submission names a function the registry does not know. Its code stays invalid_argument
 * (a typo to fix); transports that want a finer status (HTTP 422) test for the class.
 */
export class UnknownFunctionError extends GoTaskQError {
  readonly functionKey: string;

  constructor(functionKey: string, message: string) {
    super("invalid_argument", message);
    this.functionKey = functionKey;
  }
}

/**
 * A payload, request body or message over its size limit (HTTP 413, gRPC RESOURCE_EXHAUSTED);
 * the message states the limit.
 */
export class PayloadTooLargeError extends GoTaskQError {
  readonly limitBytes: number;

  constructor(message: string, limitBytes: number) {
    super("resource_exhausted", message);
    this.limitBytes = limitBytes;
  }
}

/**
 * An idempotency key, still within its TTL, was first used for a different submission (another
 * function, payload, queue, priority or option). HTTP 409; the caller picks a new key.
 */
export class IdempotencyKeyReusedError extends GoTaskQError {
  readonly idempotencyKey: string;

  constructor(idempotencyKey: string, message: string) {
    super("idempotency_key_reused", message);
    this.idempotencyKey = idempotencyKey;
  }
}

export class NotFoundError extends GoTaskQError {
  constructor(message: string) {
    super("not_found", message);
  }
}

/** A backend is unreachable. Submissions fail fast with this rather than queue in memory. */
export class UnavailableError extends GoTaskQError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("unavailable", message, options);
  }
}

/** Best description of any thrown value, for logs and task records. */
export function describeError(error: unknown): { message: string; type: string; stack?: string } {
  if (error instanceof Error) {
    return {
      message: error.message,
      type: error.name,
      ...(error.stack ? { stack: error.stack } : {}),
    };
  }
  return { message: String(error), type: typeof error };
}

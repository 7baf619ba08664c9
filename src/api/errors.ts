import { GoTaskQError } from "../core/errors.js";

// Tiny named errors the API layer adds on top of core's codes. They keep a core `ErrorCode`, so
// any code that only knows codes still handles them, while the one status table
// (error-status.ts) can give them a more precise HTTP status: RateLimitedError → 429 +
// Retry-After. Core's own refined errors (UnknownFunctionError → 422, PayloadTooLargeError → 413)
// are thrown below the API and live in core/errors.ts.

/** The caller's API key used up its request budget (HTTP 429, gRPC RESOURCE_EXHAUSTED). */
export class RateLimitedError extends GoTaskQError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super("resource_exhausted", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

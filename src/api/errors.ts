import { GoTaskQError } from "../core/errors.js";

// Tiny named errors the API layer adds on top of core's codes (STYLE §2). They keep a core
// `ErrorCode`, so any code that only knows codes still handles them, while the one status table
// (error-status.ts) can give them the more precise HTTP status the issue asks for:
// UnknownFunctionError → 422, PayloadTooLargeError → 413, RateLimitedError → 429 + Retry-After.

/** The submission names a function the server's registry does not know (HTTP 422). */
export class UnknownFunctionError extends GoTaskQError {
  readonly functionKey: string;

  constructor(functionKey: string, message: string) {
    super("invalid_argument", message);
    this.functionKey = functionKey;
  }
}

// Core's validation throws it for a payload over the producer's limit, so it lives in core.
export { PayloadTooLargeError } from "../core/errors.js";

/** The caller's API key used up its request budget (HTTP 429, gRPC RESOURCE_EXHAUSTED). */
export class RateLimitedError extends GoTaskQError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super("resource_exhausted", message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

import { status as GrpcStatus } from "@grpc/grpc-js";
import {
  type ErrorCode,
  GoTaskQError,
  PayloadTooLargeError,
  UnknownFunctionError,
} from "../core/errors.js";
import { RateLimitedError } from "./errors.js";

// The one table that turns an error code into a transport status: REST and gRPC both
// read it, so an error means the same thing on every transport. Anything that is not a
// GoTaskQError is a bug on our side: 500 / INTERNAL (and the transport logs it).
//
// Three named errors refine their code's row:
// - UnknownFunctionError (code invalid_argument) → 422 Unprocessable Content: the JSON is valid,
//   the function key is well-formed, the server just does not know it. gRPC keeps
//   INVALID_ARGUMENT: the registry is fixed for the server's lifetime, so for a client it is an
//   argument to fix (a typo), not a precondition to wait for.
// - PayloadTooLargeError (resource_exhausted) → 413; RateLimitedError (resource_exhausted) → 429.
//   gRPC has one code for both: RESOURCE_EXHAUSTED.

export interface TransportStatus {
  /** HTTP status code. */
  http: number;
  /** gRPC status code (numeric value of grpc-js `status`). */
  grpc: GrpcStatus;
  /** Short, stable title (RFC 9457 `title`). */
  title: string;
  /** A finer code than the ErrorCode, for problem documents (e.g. unknown_function). */
  refinedCode?: string;
}

export const ERROR_STATUS: Readonly<Record<ErrorCode, TransportStatus>> = {
  invalid_argument: { http: 400, grpc: GrpcStatus.INVALID_ARGUMENT, title: "Invalid argument" },
  not_found: { http: 404, grpc: GrpcStatus.NOT_FOUND, title: "Not found" },
  // "valid request, but the current state forbids it" (requeue a SUCCESS task, cancel a finished
  // one): FAILED_PRECONDITION is gRPC's name for exactly that.
  conflict: { http: 409, grpc: GrpcStatus.FAILED_PRECONDITION, title: "Conflict" },
  // The key already names another submission: retrying the same request can never succeed.
  idempotency_key_reused: {
    http: 409,
    grpc: GrpcStatus.ALREADY_EXISTS,
    title: "Idempotency key reused",
  },
  unauthenticated: { http: 401, grpc: GrpcStatus.UNAUTHENTICATED, title: "Unauthenticated" },
  permission_denied: { http: 403, grpc: GrpcStatus.PERMISSION_DENIED, title: "Permission denied" },
  resource_exhausted: {
    http: 429,
    grpc: GrpcStatus.RESOURCE_EXHAUSTED,
    title: "Resource exhausted",
  },
  unavailable: { http: 503, grpc: GrpcStatus.UNAVAILABLE, title: "Service unavailable" },
  deadline_exceeded: {
    http: 504,
    grpc: GrpcStatus.DEADLINE_EXCEEDED,
    title: "Deadline exceeded",
  },
  // Only reaches a transport when the caller itself went away (499 = nginx's "client closed").
  canceled: { http: 499, grpc: GrpcStatus.CANCELLED, title: "Canceled" },
  // A handler-side code; it never describes an API request, so it is a server bug if it leaks.
  permanent: { http: 500, grpc: GrpcStatus.INTERNAL, title: "Internal error" },
  internal: { http: 500, grpc: GrpcStatus.INTERNAL, title: "Internal error" },
};

const INTERNAL = ERROR_STATUS.internal;
const UNKNOWN_FUNCTION: TransportStatus = {
  http: 422,
  grpc: GrpcStatus.INVALID_ARGUMENT,
  title: "Unknown function",
  refinedCode: "unknown_function",
};
const PAYLOAD_TOO_LARGE: TransportStatus = {
  http: 413,
  grpc: GrpcStatus.RESOURCE_EXHAUSTED,
  title: "Content too large",
  refinedCode: "content_too_large",
};
const RATE_LIMITED: TransportStatus = {
  http: 429,
  grpc: GrpcStatus.RESOURCE_EXHAUSTED,
  title: "Too many requests",
  refinedCode: "rate_limited",
};

/** The full status row of any thrown value. */
export function transportStatusOf(error: unknown): TransportStatus {
  if (!(error instanceof GoTaskQError)) return INTERNAL;
  if (error instanceof UnknownFunctionError) return UNKNOWN_FUNCTION;
  if (error instanceof PayloadTooLargeError) return PAYLOAD_TOO_LARGE;
  if (error instanceof RateLimitedError) return RATE_LIMITED;
  return ERROR_STATUS[error.code] ?? INTERNAL;
}

export function httpStatusOf(error: unknown): number {
  return transportStatusOf(error).http;
}

export function grpcStatusOf(error: unknown): GrpcStatus {
  return transportStatusOf(error).grpc;
}

/** Whether the error is our bug (500 / INTERNAL), worth logging with its stack. */
export function isServerFault(error: unknown): boolean {
  return transportStatusOf(error).http === 500;
}

import { Metadata, type StatusObject } from "@grpc/grpc-js";
import { GoTaskQError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import { grpcStatusOf, isServerFault } from "../error-status.js";
import { RateLimitedError } from "../errors.js";

// Errors → gRPC statuses, through the one table in ../error-status.ts. A GoTaskQError's message
// was written for the caller (it says what to change) and is sent as is; anything else is our
// bug: logged with its stack here, and answered with a generic INTERNAL so no internals leak.

export type GrpcStatus = Pick<StatusObject, "code" | "details"> & { metadata?: Metadata };

export function statusOf(error: unknown, logger: Logger, method: string): GrpcStatus {
  const code = grpcStatusOf(error);
  if (isServerFault(error)) {
    logger.error({ event: "grpc_error", method, err: error }, "gRPC call failed on the server");
  }
  if (!(error instanceof GoTaskQError)) {
    return { code, details: "internal error; the server logged the details" };
  }
  const result: GrpcStatus = { code, details: error.message };
  if (error instanceof RateLimitedError) {
    // The gRPC twin of HTTP's Retry-After, as a trailer.
    const metadata = new Metadata();
    metadata.set("retry-after", String(error.retryAfterSeconds));
    result.metadata = metadata;
  }
  return result;
}

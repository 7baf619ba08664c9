import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  GoTaskQError,
  InvalidArgumentError,
  NotFoundError,
  PayloadTooLargeError,
  UnknownFunctionError,
} from "../core/errors.js";
import { ERROR_STATUS, grpcStatusOf, httpStatusOf } from "./error-status.js";
import { RateLimitedError } from "./errors.js";

// One table from error codes to HTTP and gRPC statuses, for both transports.

describe("error status table", () => {
  it("maps the codes callers act on", () => {
    expect([
      httpStatusOf(new InvalidArgumentError("x")),
      grpcStatusOf(new InvalidArgumentError("x")),
    ]).toEqual([400, status.INVALID_ARGUMENT]);
    expect([httpStatusOf(new NotFoundError("x")), grpcStatusOf(new NotFoundError("x"))]).toEqual([
      404,
      status.NOT_FOUND,
    ]);
    const rows = Object.fromEntries(
      Object.entries(ERROR_STATUS).map(([code, s]) => [code, [s.http, s.grpc]]),
    );
    expect(rows).toMatchObject({
      conflict: [409, status.FAILED_PRECONDITION],
      unauthenticated: [401, status.UNAUTHENTICATED],
      permission_denied: [403, status.PERMISSION_DENIED],
      resource_exhausted: [429, status.RESOURCE_EXHAUSTED],
      unavailable: [503, status.UNAVAILABLE],
      deadline_exceeded: [504, status.DEADLINE_EXCEEDED],
      internal: [500, status.INTERNAL],
    });
  });

  it("refines unknown functions (422), oversize bodies (413) and rate limits (429)", () => {
    const unknown = new UnknownFunctionError("a.b", "unknown");
    expect([httpStatusOf(unknown), grpcStatusOf(unknown)]).toEqual([422, status.INVALID_ARGUMENT]);
    const large = new PayloadTooLargeError("big", 10);
    expect([httpStatusOf(large), grpcStatusOf(large)]).toEqual([413, status.RESOURCE_EXHAUSTED]);
    const limited = new RateLimitedError("slow down", 1);
    expect([httpStatusOf(limited), grpcStatusOf(limited)]).toEqual([
      429,
      status.RESOURCE_EXHAUSTED,
    ]);
  });

  it("treats anything else as an internal error", () => {
    expect(httpStatusOf(new TypeError("bug"))).toBe(500);
    expect(grpcStatusOf("thrown string")).toBe(status.INTERNAL);
    expect(httpStatusOf(new GoTaskQError("permanent", "handler-side"))).toBe(500);
  });
});

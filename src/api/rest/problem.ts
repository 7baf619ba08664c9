import type { FastifyReply } from "fastify";
import { GoTaskQError } from "../../core/errors.js";
import { isServerFault, transportStatusOf } from "../error-status.js";
import { RateLimitedError } from "../errors.js";

// Every REST error is an RFC 9457 problem document (application/problem+json):
// {type, title, status, detail, code, instance}. `detail` says what to change; `code` is the
// GoTaskQ error code (or an HTTP-level one such as unsupported_media_type) for programs. Errors
// raised by Fastify itself (body too large, unsupported content type, bad Content-Length) are
// translated here too, so no client ever sees another error shape.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
}

/** A REST-only failure with no GoTaskQ code (415, route 404, …). */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;

  constructor(status: number, code: string, title: string, detail: string) {
    super(detail);
    this.status = status;
    this.code = code;
    this.title = title;
  }
}

/** Fastify's own errors carry a statusCode and an FST_ code. */
interface FrameworkError {
  statusCode?: number;
  code?: string;
  message: string;
}

export interface ProblemContext {
  instance: string;
  contentType: string | undefined;
  bodyLimitBytes: number;
}

const INTERNAL_DETAIL =
  "the server failed unexpectedly; retry later, and report it if it persists (the server log has the details)";

function problem(status: number, code: string, title: string, detail: string, instance: string) {
  return { type: `urn:gotaskq:problem:${code}`, title, status, detail, code, instance };
}

function frameworkProblem(error: FrameworkError, ctx: ProblemContext): Problem | undefined {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return problem(
        413,
        "content_too_large",
        "Content too large",
        `the request body is larger than the limit of ${ctx.bodyLimitBytes} bytes; send a smaller payload (or split a batch)`,
        ctx.instance,
      );
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return problem(
        415,
        "unsupported_media_type",
        "Unsupported media type",
        `Content-Type ${ctx.contentType ? JSON.stringify(ctx.contentType) : "(none)"} is not supported; send the body as application/json`,
        ctx.instance,
      );
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
      return problem(
        400,
        "invalid_argument",
        "Invalid argument",
        "the request body size does not match its Content-Length header; send the exact length",
        ctx.instance,
      );
    default: {
      const status = error.statusCode;
      if (status === undefined || status < 400 || status >= 500) return undefined;
      return problem(status, "invalid_argument", "Bad request", error.message, ctx.instance);
    }
  }
}

/** The problem document for any thrown value, and whether it is our bug (worth a log line). */
export function problemOf(
  error: unknown,
  ctx: ProblemContext,
): { problem: Problem; fault: boolean } {
  if (error instanceof HttpProblem) {
    return {
      problem: problem(error.status, error.code, error.title, error.message, ctx.instance),
      fault: false,
    };
  }
  if (error instanceof GoTaskQError) {
    const status = transportStatusOf(error);
    const detail = isServerFault(error) ? INTERNAL_DETAIL : error.message;
    const code = status.refinedCode ?? error.code;
    return {
      problem: problem(status.http, code, status.title, detail, ctx.instance),
      fault: isServerFault(error),
    };
  }
  if (typeof error === "object" && error !== null && "message" in error) {
    const known = frameworkProblem(error as FrameworkError, ctx);
    if (known) return { problem: known, fault: false };
  }
  return {
    problem: problem(500, "internal", "Internal error", INTERNAL_DETAIL, ctx.instance),
    fault: true,
  };
}

export function sendProblem(reply: FastifyReply, p: Problem, error?: unknown): FastifyReply {
  if (error instanceof RateLimitedError) {
    reply.header("retry-after", String(error.retryAfterSeconds));
  }
  if (p.status === 401) reply.header("www-authenticate", 'Bearer realm="gotaskq"');
  return reply
    .code(p.status)
    .header("content-type", "application/problem+json; charset=utf-8")
    .send(JSON.stringify(p));
}

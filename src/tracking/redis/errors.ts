import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// ioredis errors translated once, so none crosses the seam. The split matters to the
// best-effort writer: `unavailable` = try the same batch again later (not connected, connection
// lost, command timed out, server loading, out of memory, read-only replica…); `internal` = the
// server ran the command and refused it (a script error), so retrying as is would never succeed.

// Error replies that describe the server's state, not the data: worth retrying later.
const TRANSIENT_REPLIES = [
  "OOM",
  "LOADING",
  "BUSY",
  "READONLY",
  "MASTERDOWN",
  "CLUSTERDOWN",
  "TRYAGAIN",
  "NOREPLICAS",
  "MISCONF",
  "MOVED",
  "ASK",
];

function isReplyError(error: unknown): error is Error {
  // ioredis's ReplyError (from redis-errors) is exported untyped; its name is stable.
  return error instanceof Error && error.name === "ReplyError";
}

export function toRedisTrackingError(operation: string, error: unknown): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const text = `tracking store (redis) ${operation} failed: ${message}`;
  if (isReplyError(error) && !TRANSIENT_REPLIES.some((code) => message.startsWith(code))) {
    return new GoTaskQError("internal", text, { cause: error });
  }
  return new UnavailableError(text, { cause: error });
}

import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// pg errors are translated here, once, so none crosses the seam. Everything that says "the
// server is not there or did not answer in time" is `unavailable` (retry later): refused or
// dropped connections, pg's query_timeout, the pool's connection timeout, statement_timeout and
// lock_timeout (57014, 55P03), a server shutting down (57P0x), serialization failures and
// deadlocks (40xxx). A statement the server refused for its data or text (SQLSTATE classes 22,
// 23, 42) is a defect of ours: `internal`, so nobody retries it forever.

const REFUSED_CLASSES = new Set(["22", "23", "42"]);

function sqlState(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function toCoordinationError(operation: string, error: unknown): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const text = `coordination store (postgres) ${operation} failed: ${message}`;
  const state = sqlState(error);
  if (state !== undefined && REFUSED_CLASSES.has(state.slice(0, 2))) {
    return new GoTaskQError("internal", text, { cause: error });
  }
  return new UnavailableError(text, { cause: error });
}

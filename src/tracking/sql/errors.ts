import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { SqlKind } from "../records/schema.js";

// Driver errors are translated here, once, so no pg or better-sqlite3 error crosses the seam.
// The split matters to the best-effort writer: `unavailable` means "try the same batch again
// later" (server down, connection lost, database locked, disk full); `internal` means the store
// was reached and refused the data, so retrying the same batch forever would block the queue.

// PostgreSQL SQLSTATE classes that describe the data or statement, not the server's health:
// 22 data exception, 23 integrity constraint violation, 42 syntax error or access rule violation.
const PG_DATA_CLASSES = new Set(["22", "23", "42"]);
// better-sqlite3 error codes with the same meaning.
const SQLITE_DATA_CODES = new Set([
  "SQLITE_CONSTRAINT",
  "SQLITE_MISMATCH",
  "SQLITE_TOOBIG",
  "SQLITE_RANGE",
  "SQLITE_ERROR",
]);

function codeOf(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

function refusesData(kind: SqlKind, code: string | undefined): boolean {
  if (code === undefined) return false;
  if (kind === "postgres")
    return /^[0-9A-Z]{5}$/.test(code) && PG_DATA_CLASSES.has(code.slice(0, 2));
  return [...SQLITE_DATA_CODES].some((c) => code === c || code.startsWith(`${c}_`));
}

export function toTrackingError(kind: SqlKind, operation: string, error: unknown): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const text = `tracking store (${kind}) ${operation} failed: ${message}`;
  if (refusesData(kind, codeOf(error))) return new GoTaskQError("internal", text, { cause: error });
  return new UnavailableError(text, { cause: error });
}

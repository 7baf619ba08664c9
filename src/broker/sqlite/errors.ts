import Database from "better-sqlite3";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// The one place SQLite errors become domain errors. Every SQLite failure a caller can see — the
// file cannot be opened or its directory created, another process held the write lock past
// busy_timeout (SQLITE_BUSY), the disk is full or read-only, the connection was closed — means
// "the broker cannot take this now": `unavailable`, with the file and SQLite's code in the
// message so an operator can act.
// Our own GoTaskQErrors (validation, lease lost) pass through unchanged; anything else is a bug
// of ours and becomes `internal`, keeping the original as `cause`.

export function toDomainError(error: unknown, file: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  if (error instanceof Database.SqliteError) {
    return new UnavailableError(`sqlite broker ${file}: ${error.message} (${error.code})`, {
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (isFileSystemError(error)) {
    return new UnavailableError(`sqlite broker ${file}: ${message}`, { cause: error });
  }
  if (/database connection is not open/i.test(message)) {
    return new UnavailableError(`sqlite broker ${file} is closed`, { cause: error });
  }
  return new GoTaskQError("internal", `sqlite broker ${file}: ${message}`, { cause: error });
}

/** Node's fs errors (creating the directory): ENOENT, EACCES, ENOTDIR, EROFS, ENOSPC, … */
function isFileSystemError(error: unknown): boolean {
  if (!(error instanceof Error) || !("code" in error)) return false;
  const code = (error as NodeJS.ErrnoException).code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code);
}

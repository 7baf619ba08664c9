import Database from "better-sqlite3";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// The one place the SQLite coordination store's errors become domain errors. Whatever SQLite
// reports — another process held the write lock past busy_timeout (SQLITE_BUSY), the file
// cannot be opened or its directory created, the disk is full or read-only, the handle was
// closed — means "the store cannot take this now": `unavailable`, naming the file and SQLite's
// code so an operator can act. Our own GoTaskQErrors (argument checks) pass unchanged; anything
// else is a bug of ours and becomes `internal`, keeping the original as `cause`.

export function toDomainError(error: unknown, file: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  if (error instanceof Database.SqliteError) {
    return new UnavailableError(
      `sqlite coordination store ${file}: ${error.message} (${error.code})`,
      {
        cause: error,
      },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/database connection is not open/i.test(message)) {
    return new UnavailableError(`sqlite coordination store ${file} is closed`, { cause: error });
  }
  if (error instanceof Error && /^E[A-Z]+$/.test(String((error as NodeJS.ErrnoException).code))) {
    // Node's fs errors while creating the directory: ENOENT, EACCES, EROFS, ENOSPC, …
    return new UnavailableError(`sqlite coordination store ${file}: ${message}`, { cause: error });
  }
  return new GoTaskQError("internal", `sqlite coordination store ${file}: ${message}`, {
    cause: error,
  });
}

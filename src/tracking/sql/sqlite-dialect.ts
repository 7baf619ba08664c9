import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  SqliteDriver,
} from "kysely";
import type { SqliteFile } from "./sqlite-file.js";

// Kysely's SQLite dialect, adjusted for several writers on one database file (sqlite-file.ts
// says why and how):
//
// - Transactions start with BEGIN IMMEDIATE. A deferred BEGIN takes a read snapshot first and can
//   fail with SQLITE_BUSY_SNAPSHOT when it later upgrades to a write after another process
//   committed; IMMEDIATE takes the write lock up front, or fails at once with SQLITE_BUSY (the
//   connection's busy_timeout is 0), and the store retries the whole operation (sqlite-file.ts).
// - Migrations run in a transaction (SQLite has transactional DDL; Kysely assumes it has not).
//   With BEGIN IMMEDIATE that transaction is the cross-process migration lock: a second process
//   waits, then sees the migrations already applied.
// - The connection is held under the file's in-process lock, from acquiring to releasing it.

class FileLockedSqliteDriver extends SqliteDriver {
  readonly #file: SqliteFile;
  #unlock: (() => void) | undefined;

  constructor(file: SqliteFile) {
    super({ database: file.database });
    this.#file = file;
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const unlock = await this.#file.acquire();
    try {
      const connection = await super.acquireConnection();
      this.#unlock = unlock;
      return connection;
    } catch (error) {
      unlock();
      throw error;
    }
  }

  override async releaseConnection(): Promise<void> {
    const unlock = this.#unlock;
    this.#unlock = undefined;
    try {
      await super.releaseConnection();
    } finally {
      unlock?.();
    }
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw("begin immediate"));
  }

  override async destroy(): Promise<void> {
    this.#file.close();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class TrackingSqliteDialect extends SqliteDialect {
  readonly #file: SqliteFile;

  constructor(file: SqliteFile) {
    super({ database: file.database });
    this.#file = file;
  }

  override createDriver(): Driver {
    return new FileLockedSqliteDriver(this.#file);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

import fs from "node:fs";
import path from "node:path";
import type Database from "better-sqlite3";
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  SqliteAdapter,
  SqliteDialect,
  type SqliteDialectConfig,
  SqliteDriver,
} from "kysely";

// Kysely's SQLite dialect, adjusted for several writers on one database file:
//
// - Transactions start with BEGIN IMMEDIATE. A deferred BEGIN takes a read snapshot first and can
//   fail with SQLITE_BUSY_SNAPSHOT when it later upgrades to a write after another process
//   committed; IMMEDIATE takes the write lock up front, where busy_timeout makes it wait instead.
// - Migrations run in a transaction (SQLite has transactional DDL; Kysely assumes it has not).
//   With BEGIN IMMEDIATE that transaction is the cross-process migration lock: a second process
//   waits, then sees the migrations already applied.
// - better-sqlite3 is synchronous: while a connection waits for busy_timeout the whole event loop
//   waits. Two connections of one process on the same file would deadlock (the holder cannot run
//   its COMMIT while the waiter blocks the thread). So every store of a process that opens the
//   same file shares one lock, held from acquiring the connection (a query, or a whole
//   transaction) to releasing it.

class Mutex {
  #tail: Promise<void> = Promise.resolve();

  /** Resolves with the function that releases the lock, once every earlier holder released it. */
  acquire(): Promise<() => void> {
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const ready = this.#tail.then(() => release);
    this.#tail = this.#tail.then(() => held);
    return ready;
  }
}

const fileLocks = new Map<string, { mutex: Mutex; users: number }>();

function lockFor(filename: string): { mutex: Mutex; release(): void } {
  if (filename === ":memory:" || filename === "") {
    return { mutex: new Mutex(), release() {} };
  }
  // The real path, so two spellings of one file (relative, absolute, symlink) share the lock.
  let key = path.resolve(filename);
  try {
    key = fs.realpathSync(key);
  } catch {
    // Not created yet: the resolved path is the best key there is.
  }
  let entry = fileLocks.get(key);
  if (!entry) {
    entry = { mutex: new Mutex(), users: 0 };
    fileLocks.set(key, entry);
  }
  entry.users += 1;
  const held = entry;
  return {
    mutex: held.mutex,
    release() {
      held.users -= 1;
      if (held.users === 0) fileLocks.delete(key);
    },
  };
}

class FileLockedSqliteDriver extends SqliteDriver {
  readonly #lock: { mutex: Mutex; release(): void };
  #unlock: (() => void) | undefined;

  constructor(config: SqliteDialectConfig, filename: string) {
    super(config);
    this.#lock = lockFor(filename);
  }

  override async acquireConnection(): Promise<DatabaseConnection> {
    const unlock = await this.#lock.mutex.acquire();
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
    await super.destroy();
    this.#lock.release();
  }
}

class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

export class TrackingSqliteDialect extends SqliteDialect {
  readonly #config: SqliteDialectConfig;
  readonly #database: Database.Database;

  constructor(database: Database.Database) {
    const config: SqliteDialectConfig = { database };
    super(config);
    this.#config = config;
    this.#database = database;
  }

  override createDriver(): Driver {
    return new FileLockedSqliteDriver(this.#config, this.#database.name);
  }

  override createAdapter(): SqliteAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

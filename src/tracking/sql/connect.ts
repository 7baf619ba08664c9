import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Kysely, PostgresDialect } from "kysely";
import { InvalidArgumentError } from "../../core/errors.js";
import type { TrackingDatabase } from "../records/schema.js";
import { TrackingSqliteDialect } from "./sqlite-dialect.js";
import { SqliteFile } from "./sqlite-file.js";

// Connecting to the SQL tracking store's database from a URL: the only place that knows
// better-sqlite3 and pg. pg is imported only for a postgres:// URL, so a process that tracks to
// SQLite (the default) does not load it.

/** Bounds on PostgreSQL waits: a write to a vanished server fails (and is retried), never hangs. */
const PG_CONNECT_TIMEOUT_MS = 5_000;
const PG_QUERY_TIMEOUT_MS = 30_000;
/** Tracking is a side channel: a few connections per process are plenty. */
const PG_POOL_SIZE = 4;
/** Lowercase only: PostgreSQL folds unquoted names, and search_path is set unquoted. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const USAGE =
  "use sqlite://relative/path.db, sqlite:///absolute/path.db, sqlite::memory: or postgres://user@host:5432/db[?schema=name]";

export type SqlTarget =
  /** `writeThread` undefined: the URL does not say (the opener's default applies). */
  | { kind: "sqlite"; filename: string; writeThread?: boolean }
  | { kind: "postgres"; connectionString: string; schema: string };

export function parseTrackingUrl(url: string, options: { schema?: string } = {}): SqlTarget {
  if (url === "sqlite::memory:" || url === "sqlite://:memory:") {
    return { kind: "sqlite", filename: ":memory:", writeThread: false };
  }
  if (url.startsWith("sqlite://")) {
    // A query string (e.g. a broker option copied over) is not part of the file name.
    const [filename = "", query = ""] = url.slice("sqlite://".length).split("?");
    if (filename === "") {
      throw new InvalidArgumentError(`tracking URL ${url} names no file; ${USAGE}`);
    }
    const thread = new URLSearchParams(query).get("write_thread");
    if (thread === null) return { kind: "sqlite", filename };
    if (thread !== "on" && thread !== "off") {
      throw new InvalidArgumentError(
        `tracking URL option write_thread must be on or off (got ${JSON.stringify(thread)})`,
      );
    }
    return { kind: "sqlite", filename, writeThread: thread === "on" };
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InvalidArgumentError(`tracking URL is not a valid URL; ${USAGE}`);
    }
    const schema = options.schema ?? parsed.searchParams.get("schema") ?? "public";
    parsed.searchParams.delete("schema");
    if (!SCHEMA_NAME.test(schema)) {
      throw new InvalidArgumentError(
        `tracking schema must match ${SCHEMA_NAME.source} (got ${JSON.stringify(schema)})`,
      );
    }
    return { kind: "postgres", connectionString: parsed.toString(), schema };
  }
  throw new InvalidArgumentError(
    `unsupported tracking URL ${JSON.stringify(url.replace(/\/\/[^@/]*@/, "//***@"))}; ${USAGE}`,
  );
}

function openSqlite(filename: string): SqlConnection {
  const inMemory = filename === ":memory:";
  if (!inMemory) fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  const database = new Database(filename);
  let file: SqliteFile;
  try {
    SqliteFile.configure(database, inMemory);
    file = new SqliteFile(database);
  } catch (error) {
    database.close();
    throw error;
  }
  return { db: new Kysely<TrackingDatabase>({ dialect: new TrackingSqliteDialect(file) }), file };
}

async function openPostgres(connectionString: string, schema: string): Promise<SqlConnection> {
  const { default: pg } = await import("pg");
  // int8 (BIGINT columns, COUNT) as JS numbers: epoch milliseconds stay far below 2^53.
  const types = new pg.TypeOverrides();
  types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value));
  const pool = new pg.Pool({
    connectionString,
    options: `-c search_path=${schema}`,
    max: PG_POOL_SIZE,
    connectionTimeoutMillis: PG_CONNECT_TIMEOUT_MS,
    query_timeout: PG_QUERY_TIMEOUT_MS,
    keepAlive: true,
    application_name: "gotaskq-tracking",
    types,
  });
  // An idle client whose server went away emits "error" on the pool; unhandled, that would crash
  // the process. The next query fails instead, and the best-effort writer retries it.
  pool.on("error", () => {});
  return { db: new Kysely<TrackingDatabase>({ dialect: new PostgresDialect({ pool }) }) };
}

export interface SqlConnection {
  db: Kysely<TrackingDatabase>;
  /** SQLite only: the open file, for the prepared-statement writes (sqlite-writes.ts). */
  file?: SqliteFile;
}

/** A connection to the target; PostgreSQL connects lazily, so opening never needs the server up. */
export async function connectSql(target: SqlTarget): Promise<SqlConnection> {
  return target.kind === "sqlite"
    ? openSqlite(target.filename)
    : openPostgres(target.connectionString, target.schema);
}

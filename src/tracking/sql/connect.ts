import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { Kysely, PostgresDialect } from "kysely";
import pg from "pg";
import { InvalidArgumentError } from "../../core/errors.js";
import type { TrackingDatabase } from "./schema.js";
import { TrackingSqliteDialect } from "./sqlite-dialect.js";

// Connecting to the SQL tracking store's database from a URL: the only place that knows
// better-sqlite3 and pg.

/** How long a SQLite writer waits for another process's write lock before failing. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
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
  | { kind: "sqlite"; filename: string }
  | { kind: "postgres"; connectionString: string; schema: string };

export function parseTrackingUrl(url: string, options: { schema?: string } = {}): SqlTarget {
  if (url === "sqlite::memory:" || url === "sqlite://:memory:") {
    return { kind: "sqlite", filename: ":memory:" };
  }
  if (url.startsWith("sqlite://")) {
    // A query string (e.g. a broker option copied over) is not part of the file name.
    const filename = url.slice("sqlite://".length).split("?")[0] ?? "";
    if (filename === "") {
      throw new InvalidArgumentError(`tracking URL ${url} names no file; ${USAGE}`);
    }
    return { kind: "sqlite", filename };
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

function openSqlite(filename: string): Kysely<TrackingDatabase> {
  if (filename !== ":memory:")
    fs.mkdirSync(path.dirname(path.resolve(filename)), { recursive: true });
  const database = new Database(filename);
  // busy_timeout first, so that switching a fresh file to WAL waits for a concurrent opener.
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  if (filename !== ":memory:") database.pragma("journal_mode = WAL");
  // NORMAL in WAL mode may lose the last transactions on power loss, never corrupts: the right
  // trade for observability data, and far fewer fsyncs than FULL.
  database.pragma("synchronous = NORMAL");
  return new Kysely<TrackingDatabase>({ dialect: new TrackingSqliteDialect(database) });
}

function openPostgres(connectionString: string, schema: string): Kysely<TrackingDatabase> {
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
  return new Kysely<TrackingDatabase>({ dialect: new PostgresDialect({ pool }) });
}

/** A Kysely instance on the target; connects lazily, so opening never needs the server up. */
export function connectSql(target: SqlTarget): Kysely<TrackingDatabase> {
  return target.kind === "sqlite"
    ? openSqlite(target.filename)
    : openPostgres(target.connectionString, target.schema);
}

import type pg from "pg";
import type { ResolvedPostgresCoordinationOptions } from "./options.js";

// The pg pool behind the coordination store. Every wait has a bound derived from the operation
// timeout, so a dead or silent server surfaces as an error, never as a hang:
// - connectionTimeoutMillis: opening a connection, and waiting for a free one in a full pool;
// - query_timeout (client side): a query whose answer does not arrive, e.g. a server gone
//   without closing the socket; the pool then discards that client;
// - statement_timeout and lock_timeout (server side): a statement stuck behind a lock (a
//   semaphore acquirer queued behind another) gives up instead of piling up;
// - idle_in_transaction_session_timeout: a transaction its client abandoned (the caller's
//   deadline fired mid-way) does not keep the semaphore's lock.
// pg is imported here only, and only when a postgres:// store is opened.

/** Coordination calls are short and sit on submission paths: a handful in flight per process. */
const POOL_SIZE = 10;

export async function createPool(
  connectionString: string,
  options: ResolvedPostgresCoordinationOptions,
): Promise<pg.Pool> {
  const { default: pgModule } = await import("pg");
  // int8 (bigint columns, count(*), epoch-ms arithmetic) as JS numbers: all stay below 2^53.
  const types = new pgModule.TypeOverrides();
  types.setTypeParser(pgModule.types.builtins.INT8, (value: string) => Number(value));
  const timeout = options.operationTimeoutMs;
  const pool = new pgModule.Pool({
    connectionString,
    options: `-c search_path=${options.schema}`,
    max: POOL_SIZE,
    connectionTimeoutMillis: timeout,
    query_timeout: timeout,
    statement_timeout: timeout,
    lock_timeout: timeout,
    idle_in_transaction_session_timeout: timeout,
    keepAlive: true,
    application_name: "gotaskq-coordination",
    types,
  });
  // An idle client whose server went away emits "error" on the pool; unhandled, that would crash
  // the process. The next call fails instead, as `unavailable`.
  pool.on("error", () => {});
  return pool;
}

import type pg from "pg";
import { UnavailableError } from "../../core/errors.js";
import type {
  AcquireResult,
  ClaimResult,
  CoordinationLimits,
  CoordinationStore,
  Entry,
  EntryPage,
  TakeResult,
  TokenBucketRate,
} from "../coordination-store.js";
import {
  checkDelta,
  checkDurationMs,
  checkInteger,
  checkKey,
  checkListArguments,
  checkValue,
  MAX_VALUE_BYTES,
} from "./arguments.js";
import { createPool } from "./connection.js";
import { toCoordinationError } from "./errors.js";
import { type PostgresCoordinationOptions, parsePostgresCoordinationUrl } from "./options.js";
import { migrateCoordinationSchema } from "./schema.js";
import * as sql from "./statements.js";

// The coordination store on PostgreSQL: four tables keyed by (deployment prefix, key), every
// operation one statement (the semaphore's acquire: one short transaction under an advisory
// lock), every expiry judged by the database's clock. See statements.ts for the SQL and
// schema.ts for the tables.
//
// A call that times out has an unknown outcome (the statement may still commit): callers treat
// `unavailable` as "maybe", which is what a claim's TTL is for.

export const SCHEMES = ["postgres:", "postgresql:"] as const;

/** A claim answered with neither outcome raced a commit; this many tries always settle it. */
const CLAIM_ATTEMPTS = 5;
/** Expired rows are swept at most this often per process (ms), this many per table at a time. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_ROWS = 1_000;
const MAX_TOKEN_LIMIT = 1_000_000_000;
const MAX_SEMAPHORE_LIMIT = 1_000_000;

/**
 * Opens the store at `url` (postgres://user@host:5432/db?prefix=gotaskq) and creates its tables
 * when absent. Options given here win over the URL's query parameters.
 */
export async function open(
  url: string,
  options: PostgresCoordinationOptions = {},
): Promise<CoordinationStore> {
  const target = parsePostgresCoordinationUrl(url, options);
  const pool = await createPool(target.connectionString, target.options);
  const store = new PostgresCoordinationStore(pool, target.options);
  try {
    await store.migrate(target.options.schema);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

interface EntryRow {
  value: string;
  ttl_ms: number;
}

export class PostgresCoordinationStore implements CoordinationStore {
  readonly kind = "postgres";
  readonly limits: CoordinationLimits = { maxValueBytes: MAX_VALUE_BYTES };
  readonly #pool: pg.Pool;
  readonly #ns: string;
  readonly #timeoutMs: number;
  #closed: Promise<void> | undefined;
  #lastSweep = 0;
  #sweeping: Promise<void> | undefined;

  constructor(pool: pg.Pool, options: { prefix: string; operationTimeoutMs: number }) {
    this.#pool = pool;
    this.#ns = options.prefix;
    this.#timeoutMs = options.operationTimeoutMs;
  }

  migrate(schema: string): Promise<void> {
    return this.#run("create tables", async () => {
      const client = await this.#pool.connect();
      let failure: Error | undefined;
      try {
        await migrateCoordinationSchema(client, schema);
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        client.release(failure);
      }
    });
  }

  async claim(key: string, value: string, ttlMs: number): Promise<ClaimResult> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    return this.#write("claim", async () => {
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
        const { rows } = await this.#pool.query<{ claimed: boolean } & Partial<EntryRow>>(
          sql.CLAIM,
          args,
        );
        const row = rows[0];
        if (row?.claimed) return { claimed: true };
        if (row?.value != null && row.ttl_ms != null) {
          return { claimed: false, holder: { value: row.value, ttlMs: row.ttl_ms } };
        }
      }
      throw new UnavailableError(
        `claim of ${JSON.stringify(key)} kept racing other writers; try again`,
      );
    });
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    await this.#write("put", () => this.#pool.query(sql.PUT, args));
  }

  async read(key: string): Promise<Entry | undefined> {
    const args = [this.#ns, checkKey("key", key)];
    return this.#run("read", async () => {
      const { rows } = await this.#pool.query<EntryRow>(sql.READ, args);
      const row = rows[0];
      return row && { value: row.value, ttlMs: row.ttl_ms };
    });
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("expected", expected),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    return this.#write("replace", async () => {
      const { rowCount } = await this.#pool.query(sql.REPLACE, args);
      return rowCount === 1;
    });
  }

  async release(key: string, expected?: string): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("key", key),
      expected === undefined ? null : checkValue("expected", expected),
    ];
    return this.#write("release", async () => {
      const { rows } = await this.#pool.query<{ live: number }>(sql.RELEASE, args);
      return (rows[0]?.live ?? 0) > 0;
    });
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    const { prefix: start, limit, after } = checkListArguments(prefix, options);
    return this.#run("list", async () => {
      // One row more than asked says whether another page follows.
      const { rows } = await this.#pool.query<EntryRow & { key: string }>(sql.LIST, [
        this.#ns,
        start,
        after,
        limit + 1,
      ]);
      const entries = rows
        .slice(0, limit)
        .map((row) => ({ key: row.key, value: row.value, ttlMs: row.ttl_ms }));
      const last = entries[entries.length - 1];
      return rows.length > limit && last ? { entries, nextAfter: last.key } : { entries };
    });
  }

  async takeTokens(name: string, rate: TokenBucketRate, count = 1): Promise<TakeResult> {
    const limit = checkInteger("rate.limit", rate?.limit, 1, MAX_TOKEN_LIMIT);
    const intervalMs = checkDurationMs("rate.intervalMs", rate.intervalMs);
    const args = [
      this.#ns,
      checkKey("bucket name", name),
      limit,
      intervalMs,
      checkInteger("count", count, 1, limit),
    ];
    return this.#write("takeTokens", async () => {
      const { rows } = await this.#pool.query<{ granted: boolean; tokens: number }>(
        sql.TAKE_TOKENS,
        args,
      );
      const row = rows[0];
      if (!row) throw new Error("the token bucket upsert returned no row");
      // A hair of slack: refill is floating point, and 2.9999999 tokens are 3.
      if (row.granted) return { taken: true, remaining: Math.floor(row.tokens + 1e-9) };
      const missing = count - row.tokens;
      return { taken: false, retryAfterMs: Math.max(1, Math.ceil((missing * intervalMs) / limit)) };
    });
  }

  async acquireSlot(
    name: string,
    limit: number,
    holder: string,
    leaseMs: number,
  ): Promise<AcquireResult> {
    const semaphore = checkKey("semaphore name", name);
    const args = [
      this.#ns,
      semaphore,
      checkKey("holder", holder),
      checkInteger("limit", limit, 1, MAX_SEMAPHORE_LIMIT),
      checkDurationMs("leaseMs", leaseMs),
    ];
    return this.#write("acquireSlot", () =>
      this.#transaction(async (client) => {
        await client.query(sql.LOCK_SEMAPHORE, [JSON.stringify([this.#ns, semaphore])]);
        const { rows } = await client.query<{ held: number; acquired: boolean }>(
          sql.ACQUIRE_SLOT,
          args,
        );
        const row = rows[0];
        if (!row) throw new Error("the semaphore statement returned no row");
        return row.acquired ? { acquired: true } : { acquired: false, held: row.held };
      }),
    );
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("semaphore name", name),
      checkKey("holder", holder),
      checkDurationMs("leaseMs", leaseMs),
    ];
    return this.#write("renewSlot", async () => {
      const { rowCount } = await this.#pool.query(sql.RENEW_SLOT, args);
      return rowCount === 1;
    });
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    const args = [this.#ns, checkKey("semaphore name", name), checkKey("holder", holder)];
    await this.#write("releaseSlot", () => this.#pool.query(sql.RELEASE_SLOT, args));
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    const args = [
      this.#ns,
      checkKey("counter name", name),
      checkDelta(delta),
      checkDurationMs("ttlMs", ttlMs),
    ];
    return this.#write("add", async () => {
      const { rows } = await this.#pool.query<{ value: number }>(sql.ADD, args);
      const row = rows[0];
      if (!row) throw new Error("the counter upsert returned no row");
      return row.value;
    });
  }

  async ping(): Promise<void> {
    await this.#run("ping", () => this.#pool.query(sql.PING));
  }

  close(): Promise<void> {
    this.#closed ??= (async () => {
      await this.#sweeping;
      await this.#pool.end();
    })();
    return this.#closed;
  }

  /**
   * Runs one operation within the operation timeout, translating whatever fails. The deadline
   * covers the pool's wait and every statement of a transaction together; pg's own timeouts
   * (connection.ts) end the abandoned work on the server.
   */
  async #run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new UnavailableError(
        `coordination store (postgres) is closed; ${operation} was not sent`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new UnavailableError(
              `coordination store (postgres) ${operation} got no answer within ${this.#timeoutMs} ms (operationTimeoutMs)`,
            ),
          ),
        this.#timeoutMs,
      );
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (error) {
      throw toCoordinationError(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A write also starts the periodic sweep of expired rows (lazily: no timer of its own). */
  #write<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const result = this.#run(operation, work);
    this.#maybeSweep();
    return result;
  }

  #maybeSweep(): void {
    // The client's clock only paces the sweep; expiry itself is the database's judgement.
    const now = Date.now();
    if (this.#sweeping || this.#closed || now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
    this.#lastSweep = now;
    this.#sweeping = this.#pool
      .query(sql.SWEEP, [SWEEP_ROWS])
      .then(
        () => {},
        // Best effort: the next sweep, a minute on, tries again; expired rows are absent anyway.
        () => {},
      )
      .finally(() => {
        this.#sweeping = undefined;
      });
  }

  async #transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect();
    let failure: Error | undefined;
    try {
      await client.query("begin");
      const result = await work(client);
      await client.query("commit");
      return result;
    } catch (error) {
      // Releasing with an error closes the connection, which rolls the transaction back on the
      // server without another round trip to a server that may be gone.
      failure = error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(failure);
    }
  }
}

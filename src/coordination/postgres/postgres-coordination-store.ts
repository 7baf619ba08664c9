import { GoTaskQError, UnavailableError } from "../../core/errors.js";
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
import { BoundedPool } from "./bounded-pool.js";
import { createPool } from "./connection.js";
import { type PostgresCoordinationOptions, parsePostgresCoordinationUrl } from "./options.js";
import { migrateCoordinationSchema } from "./schema.js";
import * as sql from "./statements.js";
import { ExpirySweep } from "./sweep.js";

// The coordination store on PostgreSQL: four tables keyed by (deployment prefix, key), every
// operation one statement (the semaphore's acquire: one short transaction under an advisory
// lock), every expiry judged by the database's clock. The SQL is in statements.ts, the tables in
// schema.ts, the timeouts in connection.ts and bounded-pool.ts. Arguments are checked here,
// before anything is sent.

export const SCHEMES = ["postgres:", "postgresql:"] as const;

/** A claim answered with neither outcome raced a commit; a second try settles it in practice. */
const CLAIM_ATTEMPTS = 5;
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
  const pool = new BoundedPool(
    await createPool(target.connectionString, target.options),
    target.options.operationTimeoutMs,
  );
  try {
    await pool.withClient("create tables", (client) =>
      migrateCoordinationSchema(client, target.options.schema),
    );
  } catch (error) {
    await pool.close();
    throw error;
  }
  return new PostgresCoordinationStore(pool, target.options.prefix);
}

interface EntryRow {
  value: string;
  ttl_ms: number;
}

export class PostgresCoordinationStore implements CoordinationStore {
  readonly kind = "postgres";
  readonly limits: CoordinationLimits = { maxValueBytes: MAX_VALUE_BYTES };
  readonly #pool: BoundedPool;
  readonly #sweep: ExpirySweep;
  /** The deployment prefix, stored in every row's `ns` column. */
  readonly #ns: string;

  constructor(pool: BoundedPool, prefix: string) {
    this.#pool = pool;
    this.#sweep = new ExpirySweep(pool);
    this.#ns = prefix;
  }

  async claim(key: string, value: string, ttlMs: number): Promise<ClaimResult> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    this.#sweep.afterWrite();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const { rows } = await this.#pool.query<{ claimed: boolean } & Partial<EntryRow>>(
        "claim",
        sql.CLAIM,
        args,
      );
      const row = rows[0];
      if (row?.claimed) return { claimed: true };
      if (typeof row?.value === "string" && typeof row.ttl_ms === "number") {
        return { claimed: false, holder: { value: row.value, ttlMs: row.ttl_ms } };
      }
    }
    throw new UnavailableError(
      `coordination store (postgres) claim of ${JSON.stringify(key)} kept racing other writers; try again`,
    );
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    this.#sweep.afterWrite();
    await this.#pool.query("put", sql.PUT, args);
  }

  async read(key: string): Promise<Entry | undefined> {
    const args = [this.#ns, checkKey("key", key)];
    const { rows } = await this.#pool.query<EntryRow>("read", sql.READ, args);
    const row = rows[0];
    return row && { value: row.value, ttlMs: row.ttl_ms };
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("key", key),
      checkValue("expected", expected),
      checkValue("value", value),
      checkDurationMs("ttlMs", ttlMs),
    ];
    this.#sweep.afterWrite();
    const { rowCount } = await this.#pool.query("replace", sql.REPLACE, args);
    return rowCount === 1;
  }

  async release(key: string, expected?: string): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("key", key),
      expected === undefined ? null : checkValue("expected", expected),
    ];
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ live: number }>("release", sql.RELEASE, args);
    return (rows[0]?.live ?? 0) > 0;
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    const { prefix: start, limit, after } = checkListArguments(prefix, options);
    // One row more than asked says whether another page follows.
    const { rows } = await this.#pool.query<EntryRow & { key: string }>("list", sql.LIST, [
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
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ granted: boolean; tokens: number }>(
      "takeTokens",
      sql.TAKE_TOKENS,
      args,
    );
    const row = rows[0];
    if (!row) throw new GoTaskQError("internal", "the token bucket upsert returned no row");
    // A hair of slack: refill is floating point, and 2.9999999999 tokens are 3.
    if (row.granted) return { taken: true, remaining: Math.floor(row.tokens + 1e-9) };
    const missing = count - row.tokens;
    return { taken: false, retryAfterMs: Math.max(1, Math.ceil((missing * intervalMs) / limit)) };
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
    this.#sweep.afterWrite();
    return this.#pool.transaction("acquireSlot", async (client) => {
      // JSON keeps (ns, name) pairs distinct whatever characters either holds.
      await client.query(sql.LOCK_SEMAPHORE, [JSON.stringify([this.#ns, semaphore])]);
      const { rows } = await client.query<{ held: number; acquired: boolean }>(
        sql.ACQUIRE_SLOT,
        args,
      );
      const row = rows[0];
      if (!row) throw new GoTaskQError("internal", "the semaphore statement returned no row");
      return row.acquired ? { acquired: true } : { acquired: false, held: row.held };
    });
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    const args = [
      this.#ns,
      checkKey("semaphore name", name),
      checkKey("holder", holder),
      checkDurationMs("leaseMs", leaseMs),
    ];
    const { rowCount } = await this.#pool.query("renewSlot", sql.RENEW_SLOT, args);
    return rowCount === 1;
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    const args = [this.#ns, checkKey("semaphore name", name), checkKey("holder", holder)];
    await this.#pool.query("releaseSlot", sql.RELEASE_SLOT, args);
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    const args = [
      this.#ns,
      checkKey("counter name", name),
      checkDelta(delta),
      checkDurationMs("ttlMs", ttlMs),
    ];
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ value: number }>("add", sql.ADD, args);
    const row = rows[0];
    if (!row) throw new GoTaskQError("internal", "the counter upsert returned no row");
    return row.value;
  }

  async ping(): Promise<void> {
    await this.#pool.query("ping", sql.PING);
  }

  close(): Promise<void> {
    return this.#pool.close(this.#sweep.settled());
  }
}

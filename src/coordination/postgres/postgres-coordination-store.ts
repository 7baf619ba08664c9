import { GoTaskQError, InvalidArgumentError, UnavailableError } from "../../core/errors.js";
import {
  checkAdd,
  checkClaimMany,
  checkDuration,
  checkEntry,
  checkExpected,
  checkKey,
  checkLimit,
  checkListLimit,
  checkReplaceMany,
  checkSlot,
  checkTake,
  checkValue,
} from "../arguments.js";
import type {
  AcquireResult,
  ClaimRequest,
  ClaimResult,
  CoordinationLimits,
  CoordinationStore,
  Entry,
  EntryPage,
  ReplaceRequest,
  TakeResult,
  TokenBucketRate,
} from "../coordination-store.js";
import { checkIndexed, checkText, MAX_VALUE_BYTES } from "./arguments.js";
import { BoundedPool } from "./bounded-pool.js";
import { createPool } from "./connection.js";
import { type PostgresCoordinationOptions, parsePostgresCoordinationUrl } from "./options.js";
import { migrateCoordinationSchema } from "./schema.js";
import * as sql from "./statements.js";
import { ExpirySweep } from "./sweep.js";

// The coordination store on PostgreSQL: four tables keyed by (deployment prefix, key), every
// operation one statement (the semaphore's acquire: one short transaction under an advisory
// lock; a batch one statement for all its requests, more only for claims that lost a race and
// for a key given twice to replaceMany), every expiry judged by the database's clock. The SQL is in statements.ts, the tables in
// schema.ts, the timeouts in connection.ts and bounded-pool.ts. Arguments are checked here,
// before anything is sent.

export const SCHEMES = ["postgres:", "postgresql:"] as const;

/**
 * A claim answered with neither outcome lost a race to a claim committed while it ran (the
 * loser of a close race nearly always does); the next try sees the winner's row. More than two
 * tries means the key keeps being taken and released under it.
 */
const CLAIM_ATTEMPTS = 5;

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

/** A holder read through a left join: both null when there is none. */
type EntryRowOrNull = { [K in keyof EntryRow]: EntryRow[K] | null };

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
    this.#checkEntry(key, value, ttlMs);
    this.#sweep.afterWrite();
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt++) {
      const { rows } = await this.#pool.query<{ claimed: boolean } & Partial<EntryRow>>(
        "claim",
        sql.CLAIM,
        [this.#ns, key, value, ttlMs],
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

  /**
   * CLAIM_MANY once for the batch: one statement, one round trip. ON CONFLICT DO UPDATE may not
   * touch a row twice in one statement, so only the first request of each key is sent; a later
   * request of the same key is answered from the first's outcome, as it would have been had it
   * run after it (claimed: its holder is the first's value and TTL; not: the same holder).
   * Requests that lost a race (answered with neither outcome, see CLAIM) are sent again, all in
   * one statement, up to CLAIM_ATTEMPTS times in all. The whole call is bounded by the operation
   * timeout.
   */
  async claimMany(requests: readonly ClaimRequest[]): Promise<ClaimResult[]> {
    checkClaimMany(requests, MAX_VALUE_BYTES, ({ key, value }) => {
      checkIndexed("key", key);
      checkText("value", value);
    });
    this.#sweep.afterWrite();
    return this.#pool.run("claimMany", async () => {
      /** Key → the index of its first request. */
      const first = new Map<string, number>();
      requests.forEach(({ key }, i) => {
        if (!first.has(key)) first.set(key, i);
      });
      const results = new Map<number, ClaimResult>();
      let pending = [...first.values()];
      for (let attempt = 0; attempt < CLAIM_ATTEMPTS && pending.length > 0; attempt++) {
        const sent = pending.map((i) => requests[i] as ClaimRequest);
        const { rows } = await this.#pool.query<{ ord: number; claimed: boolean } & EntryRowOrNull>(
          "claimMany",
          sql.CLAIM_MANY,
          [this.#ns, sent.map((r) => r.key), sent.map((r) => r.value), sent.map((r) => r.ttlMs)],
        );
        for (const row of rows) {
          const index = pending[row.ord - 1];
          if (index === undefined) continue;
          if (row.claimed) results.set(index, { claimed: true });
          else if (typeof row.value === "string" && typeof row.ttl_ms === "number") {
            results.set(index, { claimed: false, holder: { value: row.value, ttlMs: row.ttl_ms } });
          }
        }
        pending = pending.filter((i) => !results.has(i));
      }
      if (pending.length > 0) {
        const keys = pending.slice(0, 3).map((i) => JSON.stringify(requests[i]?.key));
        if (pending.length > 3) keys.push(`${pending.length - 3} more`);
        throw new UnavailableError(
          `coordination store (postgres) claimMany of ${keys.join(", ")} kept racing other writers; try again`,
        );
      }
      return requests.map(({ key }, i): ClaimResult => {
        const firstIndex = first.get(key) ?? i;
        const outcome = results.get(firstIndex);
        const firstRequest = requests[firstIndex];
        if (!outcome || !firstRequest) {
          throw new GoTaskQError("internal", `claimMany lost the outcome of request ${i}`);
        }
        if (firstIndex === i) return outcome;
        // A later request of a key sees what the first request left there.
        return outcome.claimed
          ? { claimed: false, holder: { value: firstRequest.value, ttlMs: firstRequest.ttlMs } }
          : { claimed: false, holder: { ...outcome.holder } };
      });
    });
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.#checkEntry(key, value, ttlMs);
    this.#sweep.afterWrite();
    await this.#pool.query("put", sql.PUT, [this.#ns, key, value, ttlMs]);
  }

  async read(key: string): Promise<Entry | undefined> {
    this.#checkKey("key", key);
    const { rows } = await this.#pool.query<EntryRow>("read", sql.READ, [this.#ns, key]);
    const row = rows[0];
    return row && { value: row.value, ttlMs: row.ttl_ms };
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    this.#checkEntry(key, value, ttlMs);
    checkExpected(expected);
    checkText("expected", expected);
    this.#sweep.afterWrite();
    const { rowCount } = await this.#pool.query("replace", sql.REPLACE, [
      this.#ns,
      key,
      expected,
      value,
      ttlMs,
    ]);
    return rowCount === 1;
  }

  /**
   * REPLACE_MANY once for the batch: one statement, one round trip. A key given more than once
   * (an UPDATE changes a row once per statement) makes more rounds: the first round takes the
   * first request of every key, the second the second ones, and so on, so each key's requests
   * still run in request order. The whole call is bounded by the operation timeout.
   */
  async replaceMany(requests: readonly ReplaceRequest[]): Promise<boolean[]> {
    checkReplaceMany(requests, MAX_VALUE_BYTES, ({ key, expected, value }) => {
      checkIndexed("key", key);
      checkText("expected", expected);
      checkText("value", value);
    });
    this.#sweep.afterWrite();
    return this.#pool.run("replaceMany", async () => {
      /** Request indexes by round: round n holds the (n + 1)th request of each key. */
      const rounds: number[][] = [];
      const seen = new Map<string, number>();
      requests.forEach(({ key }, i) => {
        const round = seen.get(key) ?? 0;
        seen.set(key, round + 1);
        const indexes = rounds[round] ?? [];
        indexes.push(i);
        rounds[round] = indexes;
      });
      const replaced: boolean[] = requests.map(() => false);
      for (const round of rounds) {
        const sent = round.map((i) => requests[i] as ReplaceRequest);
        const { rows } = await this.#pool.query<{ key: string }>("replaceMany", sql.REPLACE_MANY, [
          this.#ns,
          sent.map((r) => r.key),
          sent.map((r) => r.expected),
          sent.map((r) => r.value),
          sent.map((r) => r.ttlMs),
        ]);
        const keys = new Set(rows.map((row) => row.key));
        for (const i of round) replaced[i] = keys.has(requests[i]?.key ?? "");
      }
      return replaced;
    });
  }

  async release(key: string, expected?: string): Promise<boolean> {
    this.#checkKey("key", key);
    if (expected !== undefined) this.#checkValue("expected", expected);
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ live: number }>("release", sql.RELEASE, [
      this.#ns,
      key,
      expected ?? null,
    ]);
    return (rows[0]?.live ?? 0) > 0;
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    const { limit, after = "" } = options;
    checkListLimit(limit);
    // The prefix may be empty (every entry), and `after` any string, listed or not.
    for (const [what, text] of [
      ["list prefix", prefix],
      ["list after", after],
    ] as const) {
      if (typeof text !== "string") {
        throw new InvalidArgumentError(`${what} must be a string (got ${typeof text})`);
      }
      checkText(what, text);
    }
    // One row more than asked says whether another page follows.
    const { rows } = await this.#pool.query<EntryRow & { key: string }>("list", sql.LIST, [
      this.#ns,
      prefix,
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
    checkTake(name, rate, count);
    checkIndexed("bucket name", name);
    const { limit, intervalMs } = rate;
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ granted: boolean; tokens: number }>(
      "takeTokens",
      sql.TAKE_TOKENS,
      [this.#ns, name, limit, intervalMs, count],
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
    this.#checkSlot(name, holder);
    checkLimit("limit", limit);
    checkDuration("leaseMs", leaseMs);
    this.#sweep.afterWrite();
    return this.#pool.transaction("acquireSlot", async (client) => {
      // JSON keeps (ns, name) pairs distinct whatever characters either holds.
      await client.query(sql.LOCK_SEMAPHORE, [JSON.stringify([this.#ns, name])]);
      const { rows } = await client.query<{ held: number; acquired: boolean }>(sql.ACQUIRE_SLOT, [
        this.#ns,
        name,
        holder,
        limit,
        leaseMs,
      ]);
      const row = rows[0];
      if (!row) throw new GoTaskQError("internal", "the semaphore statement returned no row");
      return row.acquired ? { acquired: true } : { acquired: false, held: row.held };
    });
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    this.#checkSlot(name, holder);
    checkDuration("leaseMs", leaseMs);
    const { rowCount } = await this.#pool.query("renewSlot", sql.RENEW_SLOT, [
      this.#ns,
      name,
      holder,
      leaseMs,
    ]);
    return rowCount === 1;
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    this.#checkSlot(name, holder);
    await this.#pool.query("releaseSlot", sql.RELEASE_SLOT, [this.#ns, name, holder]);
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    checkAdd(name, delta, ttlMs);
    checkIndexed("counter name", name);
    this.#sweep.afterWrite();
    const { rows } = await this.#pool.query<{ value: number }>("add", sql.ADD, [
      this.#ns,
      name,
      delta,
      ttlMs,
    ]);
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

  // The shared checks every store applies, then what PostgreSQL text and indexes refuse.

  #checkKey(what: string, key: string): void {
    checkKey(what, key);
    checkIndexed(what, key);
  }

  #checkValue(what: string, value: string): void {
    checkValue(value, MAX_VALUE_BYTES);
    checkText(what, value);
  }

  #checkEntry(key: string, value: string, ttlMs: number): void {
    checkEntry(key, value, ttlMs, MAX_VALUE_BYTES);
    checkIndexed("key", key);
    checkText("value", value);
  }

  #checkSlot(name: string, holder: string): void {
    checkSlot(name, holder);
    checkIndexed("semaphore name", name);
    checkIndexed("holder", holder);
  }
}

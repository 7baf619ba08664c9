import type { Redis } from "ioredis";
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
  ListedEntry,
  ReplaceRequest,
  TakeResult,
  TokenBucketRate,
} from "../coordination-store.js";
import { CoordinationScript, createClient, withinDeadline } from "./connection.js";
import {
  ACQUIRE_SLOT,
  ADD,
  CLAIM,
  CLAIM_MANY,
  LIST,
  PUT,
  READ,
  RELEASE,
  RENEW_SLOT,
  REPLACE,
  REPLACE_MANY,
  TAKE_TOKENS,
} from "./coordination-scripts.js";
import { CoordinationKeys } from "./keys.js";
import {
  parseRedisCoordinationUrl,
  type RedisCoordinationOptions,
  redactUrl,
  resolveRedisCoordinationOptions,
} from "./redis-coordination-options.js";

// The CoordinationStore on Redis (5 or later: scripts that call TIME and then write are
// replicated by their effects) through ioredis.
// Every operation is one script (coordination-scripts.ts, key layout in keys.ts) or one native
// command, so it is atomic, and every expiry is measured by the server's clock. Every call is
// bounded by the operation timeout (connection.ts): a Redis that is away or stalls gives
// `unavailable`, never a hang.

export const REDIS_COORDINATION_LIMITS: CoordinationLimits = {
  // As the memory and SQLite stores: a record is small, but a session or a join result with a
  // few hundred ids should fit. Redis runs a script alone, so copying a value this size is
  // still well under a millisecond.
  maxValueBytes: 1_048_576,
};

/**
 * Value bytes after which a list page ends early (with `nextAfter`): 1,000 values at the limit
 * would be a reply of 1 GiB, built while Redis serves no one else.
 */
const PAGE_VALUE_BYTES = 8 * 1_048_576;

const SCRIPTS = {
  claim: new CoordinationScript("claim", CLAIM),
  claimMany: new CoordinationScript("claim_many", CLAIM_MANY),
  put: new CoordinationScript("put", PUT),
  read: new CoordinationScript("read", READ),
  replace: new CoordinationScript("replace", REPLACE),
  replaceMany: new CoordinationScript("replace_many", REPLACE_MANY),
  release: new CoordinationScript("release", RELEASE),
  list: new CoordinationScript("list", LIST),
  takeTokens: new CoordinationScript("take_tokens", TAKE_TOKENS),
  acquireSlot: new CoordinationScript("acquire_slot", ACQUIRE_SLOT),
  renewSlot: new CoordinationScript("renew_slot", RENEW_SLOT),
  add: new CoordinationScript("add", ADD),
};

/** The URL schemes `open` understands (coordination/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["redis:", "rediss:"];

/**
 * `redis://[user:password@]host[:port][/db][?prefix=gotaskq]`, `rediss://` for TLS; `options`
 * override the URL's. The connection opens in the background; the first call waits for it
 * (within the operation timeout).
 */
export function open(url: string, options: RedisCoordinationOptions = {}): CoordinationStore {
  const { connectUrl, options: fromUrl } = parseRedisCoordinationUrl(url);
  const defined = Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as RedisCoordinationOptions;
  const resolved = resolveRedisCoordinationOptions({ ...fromUrl, ...defined });
  const client = createClient(connectUrl, resolved.operationTimeoutMs);
  client.connect().catch(() => {});
  return new RedisCoordinationStore(
    client,
    new CoordinationKeys(resolved.prefix),
    resolved.operationTimeoutMs,
    `coordination store ${redactUrl(connectUrl)}`,
  );
}

/** A TTL Redis reports for a live key: PTTL may read 0 in the key's last millisecond. */
function liveTtl(pttl: unknown): number {
  return Math.max(1, Number(pttl));
}

class RedisCoordinationStore implements CoordinationStore {
  readonly kind = "redis";
  readonly limits = REDIS_COORDINATION_LIMITS;
  private closed = false;

  constructor(
    private readonly client: Redis,
    private readonly keys: CoordinationKeys,
    private readonly operationTimeoutMs: number,
    private readonly where: string,
  ) {}

  async claim(key: string, value: string, ttlMs: number): Promise<ClaimResult> {
    this.checkEntryWrite(key, value, ttlMs);
    const reply = (await this.script("claim", this.entryKeys(key), [
      value,
      ttlMs,
      key,
      this.keys.entryPrefix,
    ])) as [number, string?, number?];
    if (reply[0] === 1) return { claimed: true };
    return { claimed: false, holder: { value: String(reply[1]), ttlMs: liveTtl(reply[2]) } };
  }

  /** One CLAIM_MANY script call: one round trip for the batch. */
  async claimMany(requests: readonly ClaimRequest[]): Promise<ClaimResult[]> {
    this.checkOpen();
    checkClaimMany(requests, this.limits.maxValueBytes);
    const args: (string | number)[] = [this.keys.entryPrefix];
    for (const { key, value, ttlMs } of requests) args.push(value, ttlMs, key);
    const replies = (await this.script("claimMany", this.batchKeys(requests), args)) as [
      number,
      string?,
      number?,
    ][];
    this.checkReplyCount("claim_many", replies, requests);
    return replies.map(
      (reply): ClaimResult =>
        reply[0] === 1
          ? { claimed: true }
          : { claimed: false, holder: { value: String(reply[1]), ttlMs: liveTtl(reply[2]) } },
    );
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    this.checkEntryWrite(key, value, ttlMs);
    await this.script("put", this.entryKeys(key), [value, ttlMs, key, this.keys.entryPrefix]);
  }

  async read(key: string): Promise<Entry | undefined> {
    this.checkOpen();
    checkKey("key", key);
    const reply = (await this.script("read", [this.keys.entry(key)], [])) as
      | [string, number]
      | null;
    return reply ? { value: reply[0], ttlMs: liveTtl(reply[1]) } : undefined;
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    this.checkEntryWrite(key, value, ttlMs);
    checkExpected(expected);
    const reply = await this.script("replace", this.entryKeys(key), [
      expected,
      value,
      ttlMs,
      key,
      this.keys.entryPrefix,
    ]);
    return reply === 1;
  }

  /** One REPLACE_MANY script call: one round trip for the batch. */
  async replaceMany(requests: readonly ReplaceRequest[]): Promise<boolean[]> {
    this.checkOpen();
    checkReplaceMany(requests, this.limits.maxValueBytes);
    const args: (string | number)[] = [this.keys.entryPrefix];
    for (const { key, expected, value, ttlMs } of requests) args.push(expected, value, ttlMs, key);
    const replies = (await this.script("replaceMany", this.batchKeys(requests), args)) as number[];
    this.checkReplyCount("replace_many", replies, requests);
    return replies.map((reply) => reply === 1);
  }

  async release(key: string, expected?: string): Promise<boolean> {
    this.checkOpen();
    checkKey("key", key);
    if (expected !== undefined) checkValue(expected, Number.POSITIVE_INFINITY);
    const reply = await this.script("release", this.entryKeys(key), [
      key,
      expected === undefined ? "0" : "1",
      expected ?? "",
    ]);
    return reply === 1;
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    this.checkOpen();
    checkListLimit(options?.limit);
    const { after, limit } = options;
    if (typeof prefix !== "string" || (after !== undefined && typeof after !== "string")) {
      throw new InvalidArgumentError("list prefix and after must be strings");
    }
    // Byte order of UTF-8 keys: no UTF-8 byte is 0xff, so every key that starts with `prefix`
    // sorts below prefix + 0xff, and none that does not lies between.
    const fromAfter =
      after !== undefined && Buffer.compare(Buffer.from(after), Buffer.from(prefix)) >= 0;
    const min = fromAfter ? `(${after}` : prefix ? `[${prefix}` : "-";
    const max = prefix ? Buffer.concat([Buffer.from(`(${prefix}`), Buffer.from([0xff])]) : "+";
    // One more than asked for: it says whether there is a next page.
    const [cut, ...flat] = (await this.script(
      "list",
      [this.keys.lexIndex, this.keys.expiryIndex],
      [this.keys.entryPrefix, min, max, limit + 1, PAGE_VALUE_BYTES],
    )) as [number, ...(string | number)[]];
    const entries: ListedEntry[] = [];
    for (let i = 0; i + 2 < flat.length && entries.length < limit; i += 3) {
      entries.push({
        key: String(flat[i]),
        value: String(flat[i + 1]),
        ttlMs: liveTtl(flat[i + 2]),
      });
    }
    const last = entries.at(-1);
    const more = cut === 1 || flat.length > limit * 3;
    return more && last ? { entries, nextAfter: last.key } : { entries };
  }

  async takeTokens(name: string, rate: TokenBucketRate, count = 1): Promise<TakeResult> {
    this.checkOpen();
    checkTake(name, rate, count);
    const reply = (await this.script(
      "takeTokens",
      [this.keys.bucket(name)],
      [rate.limit, rate.intervalMs, count],
    )) as [number, number];
    return reply[0] === 1
      ? { taken: true, remaining: reply[1] }
      : { taken: false, retryAfterMs: reply[1] };
  }

  async acquireSlot(
    name: string,
    limit: number,
    holder: string,
    leaseMs: number,
  ): Promise<AcquireResult> {
    this.checkOpen();
    checkSlot(name, holder);
    checkLimit("limit", limit);
    checkDuration("leaseMs", leaseMs);
    const reply = (await this.script(
      "acquireSlot",
      [this.keys.semaphore(name)],
      [limit, holder, leaseMs],
    )) as [number, number?];
    return reply[0] === 1 ? { acquired: true } : { acquired: false, held: Number(reply[1]) };
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    this.checkOpen();
    checkSlot(name, holder);
    checkDuration("leaseMs", leaseMs);
    const reply = await this.script("renewSlot", [this.keys.semaphore(name)], [holder, leaseMs]);
    return reply === 1;
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    this.checkOpen();
    checkSlot(name, holder);
    // One native command: the set's own expiry still covers the remaining leases.
    await this.call(() => this.client.zrem(this.keys.semaphore(name), holder));
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    this.checkOpen();
    checkAdd(name, delta, ttlMs);
    return Number(await this.script("add", [this.keys.counter(name)], [delta, ttlMs]));
  }

  async ping(): Promise<void> {
    this.checkOpen();
    await this.call(() => this.client.ping());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Every call awaited its reply, so nothing is left to flush; calls still in flight reject
    // with `unavailable`.
    this.client.disconnect();
  }

  private checkOpen(): void {
    if (this.closed) throw new UnavailableError(`${this.where} is closed`);
  }

  private checkEntryWrite(key: string, value: string, ttlMs: number): void {
    this.checkOpen();
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
  }

  private entryKeys(key: string): string[] {
    return [this.keys.entry(key), this.keys.lexIndex, this.keys.expiryIndex];
  }

  /** A batch script answers once per request; anything else is a bug of ours. */
  private checkReplyCount(script: string, replies: unknown, requests: readonly unknown[]): void {
    if (!Array.isArray(replies) || replies.length !== requests.length) {
      throw new GoTaskQError(
        "internal",
        `${this.where}: ${script} answered ${Array.isArray(replies) ? replies.length : typeof replies} replies to ${requests.length} requests`,
      );
    }
  }

  /** The index keys, then every request's entry key (a batch script's KEYS). */
  private batchKeys(requests: readonly { key: string }[]): string[] {
    const keys = [this.keys.lexIndex, this.keys.expiryIndex];
    for (const { key } of requests) keys.push(this.keys.entry(key));
    return keys;
  }

  private script(
    name: keyof typeof SCRIPTS,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    return this.call(() => SCRIPTS[name].run(this.client, keys, args));
  }

  private call<T>(body: () => Promise<T>): Promise<T> {
    return withinDeadline(this.client, this.operationTimeoutMs, this.where, body).catch(
      (error: unknown) => {
        // A call that lost the race with close() reports the close, not the dropped socket.
        if (this.closed && error instanceof GoTaskQError && error.code === "unavailable") {
          throw new UnavailableError(`${this.where} is closed`, { cause: error });
        }
        throw error;
      },
    );
  }
}

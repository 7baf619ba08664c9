import path from "node:path";
import type Database from "better-sqlite3";
import { InvalidArgumentError, UnavailableError } from "../../core/errors.js";
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
  resolveStoreOptions,
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
import { takeTokens } from "../token-bucket.js";
import { toDomainError } from "./errors.js";
import { openCoordinationDatabase } from "./schema.js";
import { prepareStatements, type Statements } from "./statements.js";

// The embedded coordination store: one SQLite file (WAL) shared by every process on one
// machine — `gotaskq dev`, several workers, the CLI. Each operation is one statement or one
// BEGIN IMMEDIATE transaction, so two processes racing for a key see exactly one winner.
//
// The store's clock. SQLite has no server: the "store's clock" of the seam is this process's
// clock (`Date.now`, injectable as `now`), read ONCE per operation, inside its transaction, for
// every TTL and comparison of that operation. That is sound here because every process that
// can open the file runs on the same machine and reads the same system clock; there is no
// client clock that could disagree with a server's. (A file on a network share read by several
// machines would break this, and SQLite's locking too: it is not supported.)
//
// Timeouts: busy_timeout is the operation timeout. A write that waits longer for another
// process's lock rejects `unavailable`; nothing waits forever. Calls are synchronous underneath
// (better-sqlite3), each a few microseconds unless it waits for a lock.
//
// Expired rows are absent to every statement and overwritten in place; the rest are deleted by a
// bounded cleanup (at most CLEANUP_BATCH rows per table) that an operation runs at most once
// per `cleanupIntervalMs`.

export interface SqliteCoordinationOptions {
  /** The coordination file; created, with its directory, when missing. */
  path: string;
  /** Deployment prefix: 1–64 letters, digits or _.:-; default "gotaskq". */
  prefix?: string;
  /** How long a call may wait for another process's write lock (ms); default 5,000. */
  operationTimeoutMs?: number;
  /** The store's clock (epoch ms); default `Date.now`. */
  now?: () => number;
  /** How often expired rows are swept (ms); default 60,000. */
  cleanupIntervalMs?: number;
}

export const SQLITE_COORDINATION_LIMITS: CoordinationLimits = {
  // Sessions, schedule definitions, join results: small records. 1 MiB keeps one value from
  // bloating the WAL.
  maxValueBytes: 1_048_576,
};

const DEFAULT_CLEANUP_INTERVAL_MS = 60_000;
const CLEANUP_BATCH = 500;

/** The URL schemes `open` understands (coordination/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["sqlite:"];

/**
 * Opens the store a URL names: `sqlite://rel/coordination.db` is relative to the working
 * directory, `sqlite:///abs/coordination.db` absolute; `?prefix=` sets the deployment prefix
 * (an explicit `options.prefix` wins).
 */
export function open(
  url: string,
  options: { prefix?: string; operationTimeoutMs?: number } = {},
): CoordinationStore {
  if (!/^sqlite:\/\//i.test(url)) {
    throw new InvalidArgumentError(
      `${url} is not a SQLite coordination URL; use e.g. sqlite://.gotaskq/coordination.db`,
    );
  }
  const [file = "", query = ""] = url.slice("sqlite://".length).split("?");
  if (file === "") {
    throw new InvalidArgumentError(
      `${url} names no file; use e.g. sqlite://.gotaskq/coordination.db`,
    );
  }
  const prefix = options.prefix ?? new URLSearchParams(query).get("prefix") ?? undefined;
  return openSqliteCoordinationStore({
    path: path.resolve(file),
    ...(prefix === undefined ? {} : { prefix }),
    ...(options.operationTimeoutMs === undefined
      ? {}
      : { operationTimeoutMs: options.operationTimeoutMs }),
  });
}

export function openSqliteCoordinationStore(options: SqliteCoordinationOptions): CoordinationStore {
  const { prefix, operationTimeoutMs } = resolveStoreOptions("SQLite", options, 1);
  let db: Database.Database;
  try {
    db = openCoordinationDatabase(options.path, operationTimeoutMs);
  } catch (error) {
    throw toDomainError(error, options.path);
  }
  return new SqliteCoordinationStore(db, {
    file: options.path,
    prefix,
    now: options.now ?? Date.now,
    cleanupIntervalMs: options.cleanupIntervalMs ?? DEFAULT_CLEANUP_INTERVAL_MS,
  });
}

interface StoreSettings {
  file: string;
  prefix: string;
  now: () => number;
  cleanupIntervalMs: number;
}

class SqliteCoordinationStore implements CoordinationStore {
  readonly kind = "sqlite";
  readonly limits = SQLITE_COORDINATION_LIMITS;
  private readonly sql: Statements;
  private readonly ns: string;
  private closed = false;
  private cleanedAt: number;

  constructor(
    private readonly db: Database.Database,
    private readonly settings: StoreSettings,
  ) {
    this.sql = prepareStatements(db);
    this.ns = settings.prefix;
    this.cleanedAt = settings.now();
  }

  /**
   * Runs one operation with one clock reading: `immediate` in a BEGIN IMMEDIATE transaction
   * (read-then-write operations), else as the single statement it is. The one error boundary.
   */
  private run<T>(mode: "immediate" | "statement", operation: (now: number) => T): Promise<T> {
    try {
      if (this.closed)
        throw new UnavailableError(`sqlite coordination store ${this.settings.file} is closed`);
      let result: T;
      if (mode === "immediate") {
        result = this.db.transaction(() => operation(this.settings.now())).immediate();
      } else {
        result = operation(this.settings.now());
      }
      this.cleanupIfDue();
      return Promise.resolve(result);
    } catch (error) {
      return Promise.reject(toDomainError(error, this.settings.file));
    }
  }

  /** Best effort: a cleanup that meets a busy file is simply tried again next interval. */
  private cleanupIfDue(): void {
    const now = this.settings.now();
    if (now - this.cleanedAt < this.settings.cleanupIntervalMs) return;
    this.cleanedAt = now;
    try {
      this.db
        .transaction(() => {
          for (const statement of this.sql.cleanup) statement.run(now, CLEANUP_BATCH);
        })
        .immediate();
    } catch {
      // Expired rows are invisible to every statement; leaving them a while longer is harmless.
    }
  }

  /** A claim's statements, inside the caller's BEGIN IMMEDIATE transaction. */
  private claimAt(now: number, { key, value, ttlMs }: ClaimRequest): ClaimResult {
    if (this.sql.claimEntry.run(this.ns, key, value, now + ttlMs, now).changes === 1) {
      return { claimed: true };
    }
    const row = this.sql.readEntry.get(this.ns, key, now);
    if (!row) throw new Error(`sqlite coordination claim of ${key} found neither room nor holder`);
    return { claimed: false, holder: { value: row.value, ttlMs: row.expires_at - now } };
  }

  private replaceAt(now: number, { key, expected, value, ttlMs }: ReplaceRequest): boolean {
    return this.sql.replaceEntry.run(value, now + ttlMs, this.ns, key, expected, now).changes === 1;
  }

  async claim(key: string, value: string, ttlMs: number): Promise<ClaimResult> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    return this.run("immediate", (now) => this.claimAt(now, { key, value, ttlMs }));
  }

  /**
   * Every claim in one BEGIN IMMEDIATE transaction on one clock reading: one lock wait and one
   * commit (one WAL fsync point) for the batch. A request sees the ones before it, so a key
   * given twice finds the first request's entry as its holder.
   */
  async claimMany(requests: readonly ClaimRequest[]): Promise<ClaimResult[]> {
    checkClaimMany(requests, this.limits.maxValueBytes);
    return this.run("immediate", (now) => requests.map((request) => this.claimAt(now, request)));
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    await this.run("statement", (now) => {
      this.sql.putEntry.run(this.ns, key, value, now + ttlMs);
    });
  }

  async read(key: string): Promise<Entry | undefined> {
    checkKey("key", key);
    return this.run("statement", (now) => {
      const row = this.sql.readEntry.get(this.ns, key, now);
      return row ? { value: row.value, ttlMs: row.expires_at - now } : undefined;
    });
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    checkExpected(expected);
    return this.run("statement", (now) => this.replaceAt(now, { key, expected, value, ttlMs }));
  }

  /** Every replace in one BEGIN IMMEDIATE transaction on one clock reading (as `claimMany`). */
  async replaceMany(requests: readonly ReplaceRequest[]): Promise<boolean[]> {
    checkReplaceMany(requests, this.limits.maxValueBytes);
    return this.run("immediate", (now) => requests.map((request) => this.replaceAt(now, request)));
  }

  async release(key: string, expected?: string): Promise<boolean> {
    checkKey("key", key);
    return this.run("statement", (now) => {
      const result =
        expected === undefined
          ? this.sql.releaseEntry.run(this.ns, key, now)
          : this.sql.releaseExpected.run(this.ns, key, expected, now);
      return result.changes === 1;
    });
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    checkListLimit(options.limit);
    return this.run("statement", (now) => {
      const entries: EntryPage["entries"] = [];
      for (const row of this.sql.listEntries.iterate(this.ns, prefix, options.after ?? "", now)) {
        // One prefix's keys are contiguous in key order: the first key outside ends the list.
        if (!row.key.startsWith(prefix)) break;
        if (entries.length === options.limit) {
          return { entries, nextAfter: entries[entries.length - 1]?.key };
        }
        entries.push({ key: row.key, value: row.value, ttlMs: row.expires_at - now });
      }
      return { entries };
    });
  }

  async takeTokens(name: string, rate: TokenBucketRate, count = 1): Promise<TakeResult> {
    checkTake(name, rate, count);
    return this.run("immediate", (now) => {
      const row = this.sql.readBucket.get(this.ns, name);
      const previous = row && row.expires_at > now ? { scaled: row.scaled, at: row.at } : undefined;
      const { state, result } = takeTokens(previous, rate, count, now);
      // Untouched for a full interval it would be full anyway: that is its TTL.
      this.sql.writeBucket.run(this.ns, name, state.scaled, state.at, now + rate.intervalMs);
      return result;
    });
  }

  async acquireSlot(
    name: string,
    limit: number,
    holder: string,
    leaseMs: number,
  ): Promise<AcquireResult> {
    checkSlot(name, holder);
    checkLimit("semaphore limit", limit);
    checkDuration("leaseMs", leaseMs);
    return this.run("immediate", (now): AcquireResult => {
      this.sql.dropExpiredSlots.run(this.ns, name, now);
      if (this.sql.renewSlot.run(now + leaseMs, this.ns, name, holder, now).changes === 1) {
        return { acquired: true };
      }
      const held = this.sql.countSlots.get(this.ns, name)?.held ?? 0;
      if (held >= limit) return { acquired: false, held };
      this.sql.insertSlot.run(this.ns, name, holder, now + leaseMs);
      return { acquired: true };
    });
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    checkSlot(name, holder);
    checkDuration("leaseMs", leaseMs);
    return this.run(
      "statement",
      (now) => this.sql.renewSlot.run(now + leaseMs, this.ns, name, holder, now).changes === 1,
    );
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    checkSlot(name, holder);
    await this.run("statement", () => {
      this.sql.releaseSlot.run(this.ns, name, holder);
    });
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    checkAdd(name, delta, ttlMs);
    return this.run("statement", (now) => {
      const row = this.sql.addCounter.get({
        prefix: this.ns,
        name,
        delta,
        expiresAt: now + ttlMs,
        now,
      });
      return Number(row?.value);
    });
  }

  /** Resolves when this process could take the write lock now (what every operation needs). */
  async ping(): Promise<void> {
    await this.run("immediate", () => {
      this.sql.ping.get();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      this.db.close();
    } catch (error) {
      throw toDomainError(error, this.settings.file);
    }
  }
}

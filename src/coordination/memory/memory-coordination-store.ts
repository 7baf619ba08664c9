import { UnavailableError } from "../../core/errors.js";
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
import { type BucketState, takeTokens } from "../token-bucket.js";

// The in-process coordination store: for tests and single-process use. A `MemoryCoordinationServer`
// plays the server: every client opened on one server object shares its namespaces and its clock
// (the injectable `now`, the "store's clock" of the seam), so several clients behave like several
// processes on one Redis. Each operation is one synchronous step, hence atomic. Expired things
// are dropped when touched, and a sweep (at most once per SWEEP_INTERVAL_MS of the server's
// clock) drops the ones nobody touches again.

export const MEMORY_COORDINATION_LIMITS: CoordinationLimits = {
  // Records are sessions, schedule definitions, join results: small. 1 MiB is generous.
  maxValueBytes: 1_048_576,
};

const SWEEP_INTERVAL_MS = 1_000;

interface Stored<T> {
  item: T;
  expiresAt: number;
}

/** One deployment prefix's data; separate maps, so an entry and a counter may share a name. */
class Namespace {
  readonly entries = new Map<string, Stored<string>>();
  readonly buckets = new Map<string, Stored<BucketState>>();
  /** Semaphore name → holder → lease end. */
  readonly semaphores = new Map<string, Map<string, number>>();
  readonly counters = new Map<string, Stored<number>>();
  private sweptAt = Number.NEGATIVE_INFINITY;

  sweep(now: number): void {
    if (now - this.sweptAt < SWEEP_INTERVAL_MS) return;
    this.sweptAt = now;
    for (const map of [this.entries, this.buckets, this.counters] as Map<
      string,
      Stored<unknown>
    >[]) {
      for (const [key, stored] of map) if (stored.expiresAt <= now) map.delete(key);
    }
    for (const name of this.semaphores.keys()) liveHolders(this, name, now);
  }
}

/** The holders of `name` whose lease has not ended; drops the rest (and an empty semaphore). */
function liveHolders(ns: Namespace, name: string, now: number): Map<string, number> {
  const holders = ns.semaphores.get(name) ?? new Map<string, number>();
  for (const [holder, until] of holders) if (until <= now) holders.delete(holder);
  if (holders.size === 0) ns.semaphores.delete(name);
  return holders;
}

export class MemoryCoordinationServer {
  readonly now: () => number;
  private readonly namespaces = new Map<string, Namespace>();

  /** `now`: the store's clock (epoch ms); default `Date.now`. */
  constructor(options: { now?: () => number } = {}) {
    this.now = options.now ?? Date.now;
  }

  namespace(prefix: string): Namespace {
    let ns = this.namespaces.get(prefix);
    if (!ns) {
      ns = new Namespace();
      this.namespaces.set(prefix, ns);
    }
    return ns;
  }

  /** Forgets every namespace (a server restart without persistence). */
  clear(): void {
    this.namespaces.clear();
  }
}

export interface MemoryCoordinationOptions {
  /** The "server" several clients share; default a private one. */
  server?: MemoryCoordinationServer;
  /** Deployment prefix; default "gotaskq". */
  prefix?: string;
}

export function createMemoryCoordinationStore(
  options: MemoryCoordinationOptions = {},
): CoordinationStore {
  return new MemoryCoordinationStore(
    options.server ?? new MemoryCoordinationServer(),
    options.prefix ?? "gotaskq",
  );
}

/** The URL schemes `open` understands (coordination/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["memory:"];

/** `memory://`: a private in-process store; nothing is shared with other processes. */
export function open(_url: string, options: { prefix?: string } = {}): CoordinationStore {
  return createMemoryCoordinationStore(
    options.prefix === undefined ? {} : { prefix: options.prefix },
  );
}

class MemoryCoordinationStore implements CoordinationStore {
  readonly kind = "memory";
  readonly limits = MEMORY_COORDINATION_LIMITS;
  private closed = false;

  constructor(
    private readonly server: MemoryCoordinationServer,
    private readonly prefix: string,
  ) {}

  /** The namespace and the clock reading this operation uses, after the closed check. */
  private begin(): { ns: Namespace; now: number } {
    if (this.closed) throw new UnavailableError("memory coordination store is closed");
    const now = this.server.now();
    const ns = this.server.namespace(this.prefix);
    ns.sweep(now);
    return { ns, now };
  }

  private live(ns: Namespace, key: string, now: number): Entry | undefined {
    const stored = ns.entries.get(key);
    if (!stored) return undefined;
    if (stored.expiresAt <= now) {
      ns.entries.delete(key);
      return undefined;
    }
    return { value: stored.item, ttlMs: stored.expiresAt - now };
  }

  /** The one synchronous step of a claim, for `claim` and each request of `claimMany`. */
  private claimAt(ns: Namespace, now: number, request: ClaimRequest): ClaimResult {
    const holder = this.live(ns, request.key, now);
    if (holder) return { claimed: false, holder };
    ns.entries.set(request.key, { item: request.value, expiresAt: now + request.ttlMs });
    return { claimed: true };
  }

  /** The one synchronous step of a replace, for `replace` and each request of `replaceMany`. */
  private replaceAt(ns: Namespace, now: number, request: ReplaceRequest): boolean {
    if (this.live(ns, request.key, now)?.value !== request.expected) return false;
    ns.entries.set(request.key, { item: request.value, expiresAt: now + request.ttlMs });
    return true;
  }

  async claim(key: string, value: string, ttlMs: number): Promise<ClaimResult> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    const { ns, now } = this.begin();
    return this.claimAt(ns, now, { key, value, ttlMs });
  }

  /** One synchronous step for the whole batch, on one clock reading. */
  async claimMany(requests: readonly ClaimRequest[]): Promise<ClaimResult[]> {
    checkClaimMany(requests, this.limits.maxValueBytes);
    const { ns, now } = this.begin();
    return requests.map((request) => this.claimAt(ns, now, request));
  }

  async put(key: string, value: string, ttlMs: number): Promise<void> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    const { ns, now } = this.begin();
    ns.entries.set(key, { item: value, expiresAt: now + ttlMs });
  }

  async read(key: string): Promise<Entry | undefined> {
    checkKey("key", key);
    const { ns, now } = this.begin();
    return this.live(ns, key, now);
  }

  async replace(key: string, expected: string, value: string, ttlMs: number): Promise<boolean> {
    checkEntry(key, value, ttlMs, this.limits.maxValueBytes);
    checkExpected(expected);
    const { ns, now } = this.begin();
    return this.replaceAt(ns, now, { key, expected, value, ttlMs });
  }

  async replaceMany(requests: readonly ReplaceRequest[]): Promise<boolean[]> {
    checkReplaceMany(requests, this.limits.maxValueBytes);
    const { ns, now } = this.begin();
    return requests.map((request) => this.replaceAt(ns, now, request));
  }

  async release(key: string, expected?: string): Promise<boolean> {
    checkKey("key", key);
    const { ns, now } = this.begin();
    const entry = this.live(ns, key, now);
    if (!entry || (expected !== undefined && entry.value !== expected)) return false;
    return ns.entries.delete(key);
  }

  async list(prefix: string, options: { limit: number; after?: string }): Promise<EntryPage> {
    checkListLimit(options.limit);
    const { ns, now } = this.begin();
    const after = options.after;
    const keys = [...ns.entries.keys()]
      .filter((key) => key.startsWith(prefix) && (after === undefined || key > after))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const entries: EntryPage["entries"] = [];
    for (const key of keys) {
      const entry = this.live(ns, key, now);
      if (!entry) continue;
      if (entries.length === options.limit) {
        return { entries, nextAfter: entries[entries.length - 1]?.key };
      }
      entries.push({ key, ...entry });
    }
    return { entries };
  }

  async takeTokens(name: string, rate: TokenBucketRate, count = 1): Promise<TakeResult> {
    checkTake(name, rate, count);
    const { ns, now } = this.begin();
    const stored = ns.buckets.get(name);
    const previous = stored && stored.expiresAt > now ? stored.item : undefined;
    const { state, result } = takeTokens(previous, rate, count, now);
    // Untouched for a full interval it would be full anyway: that is its TTL.
    ns.buckets.set(name, { item: state, expiresAt: now + rate.intervalMs });
    return result;
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
    const { ns, now } = this.begin();
    const holders = liveHolders(ns, name, now);
    if (!holders.has(holder) && holders.size >= limit) {
      return { acquired: false, held: holders.size };
    }
    holders.set(holder, now + leaseMs);
    ns.semaphores.set(name, holders);
    return { acquired: true };
  }

  async renewSlot(name: string, holder: string, leaseMs: number): Promise<boolean> {
    checkSlot(name, holder);
    checkDuration("leaseMs", leaseMs);
    const { ns, now } = this.begin();
    const holders = liveHolders(ns, name, now);
    if (!holders.has(holder)) return false;
    holders.set(holder, now + leaseMs);
    return true;
  }

  async releaseSlot(name: string, holder: string): Promise<void> {
    checkSlot(name, holder);
    const { ns, now } = this.begin();
    const holders = liveHolders(ns, name, now);
    if (holders.delete(holder) && holders.size === 0) ns.semaphores.delete(name);
  }

  async add(name: string, delta: number, ttlMs: number): Promise<number> {
    checkAdd(name, delta, ttlMs);
    const { ns, now } = this.begin();
    const stored = ns.counters.get(name);
    const value = (stored && stored.expiresAt > now ? stored.item : 0) + delta;
    ns.counters.set(name, { item: value, expiresAt: now + ttlMs });
    return value;
  }

  async ping(): Promise<void> {
    this.begin();
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

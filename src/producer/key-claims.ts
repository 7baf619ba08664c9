import type {
  ClaimRequest,
  ClaimResult,
  CoordinationStore,
  ReplaceRequest,
} from "../coordination/coordination-store.js";
import { IdempotencyKeyReusedError, UnavailableError } from "../core/errors.js";
import { sleep } from "../core/lifecycle.js";
import { uniqueClaimValue, uniqueStoreKey } from "../core/submission-identity.js";
import type { SubmittedTask } from "./prepared-task.js";

// Taking an idempotency key or a unique key in the coordination store, crash-safely:
//
// 1. claim the key with a pending value {state:"pending", id, …} held for a SHORT lease
//    (default 30 s), where id is the task id the producer is about to publish;
// 2. publish to the broker;
// 3. replace pending → {state:"done", id, …} for the key's full TTL (24 h by default).
//
// Idempotency keys: the pending entry lives for the full TTL but carries its lease, and its age
// is read from the store's clock (the TTL it was written with minus the TTL left), so no
// process clock is trusted. A producer that dies between 1 and 3 leaves a claim that others may
// take over once its lease has passed: the key is never stuck for its TTL, and it keeps its task
// id, so a task the dead producer did get into the broker and the one its successor publishes
// are one task id, not two. A copy that finds a live pending claim polls it and answers its id
// once it is done. A publish that fails ends the lease at once, so a retry need not wait.
//
// Unique keys: the pending claim simply expires after the lease (the worker releases the key by
// its exact value, which must not depend on who took it over).

export interface ClaimTiming {
  /** TTL of a pending claim: how long a dead producer can block its key (ms). Default 30 000. */
  pendingTtlMs: number;
  /** How often a waiting copy reads a pending claim (ms). Default 50. */
  pollMs: number;
  /**
   * How long a copy waits for a pending claim before answering `unavailable` (ms). Default
   * pendingTtlMs + 5 000: long enough to see the claim either done or expired.
   */
  waitMs: number;
}

export const DEFAULT_PENDING_TTL_MS = 30_000;

export function claimTiming(given: Partial<ClaimTiming> = {}): ClaimTiming {
  const pendingTtlMs = given.pendingTtlMs ?? DEFAULT_PENDING_TTL_MS;
  return {
    pendingTtlMs,
    pollMs: given.pollMs ?? 50,
    waitMs: given.waitMs ?? pendingTtlMs + 5_000,
  };
}

/** What a duplicate's answer needs from the first task (idempotency claims store it all). */
interface IdempotencyValue {
  state: "pending" | "done";
  id: string;
  fp: string;
  created_at: string;
  queue: string;
  priority: number;
  run_at?: string;
  /** Pending only: the TTL the entry was written with, and how long its writer may hold it. */
  ttl_ms?: number;
  lease_ms?: number;
}

export interface IdempotencyRequest {
  key: string;
  ttlMs: number;
  fingerprint: string;
  /** The task the caller will publish if it wins: its id and its answer's fields. */
  task: SubmittedTask;
}

export interface UniqueRequest {
  /** Rendered unique key (see uniqueKeyOf). */
  key: string;
  ttlMs: number;
  task: SubmittedTask;
}

/**
 * What settling a won key writes: replace its pending value (published, or a failed publish
 * ending the lease), or release it. Settlements of a whole batch are written together
 * (`applySettlements`): one `replaceMany` round trip for the lot.
 */
export type Settlement =
  | {
      replace: ReplaceRequest;
      /** Logged when the replace finds the key no longer holding the pending value. */
      lost?: { fields: Record<string, unknown>; message: string };
    }
  | { release: { key: string; expected: string } };

/** The caller won the key: publish `id`, then settle with whether the broker took it. */
export interface Won {
  won: true;
  id: string;
  settle(published: boolean, finalId?: string): Settlement;
}

export type ClaimOutcome = Won | { won: false; task: SubmittedTask };

export interface ClaimContext {
  store: CoordinationStore;
  timing: ClaimTiming;
  now: () => number;
  /** Where a failed settle is reported (the task is enqueued; only the key's bookkeeping failed). */
  warn: (fields: Record<string, unknown>, message: string) => void;
}

function idempotencyStoreKey(key: string): string {
  return `idem:${key}`;
}

function decode(value: string): Partial<IdempotencyValue> {
  try {
    const parsed = JSON.parse(value) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as IdempotencyValue) : {};
  } catch {
    return {};
  }
}

function stillPending(what: string, key: string, waitMs: number): UnavailableError {
  return new UnavailableError(
    `another submission with ${what} ${JSON.stringify(key)} is still being enqueued after ${waitMs} ms; retry in a few seconds`,
  );
}

/** Each item's outcome, or the error that item alone failed with. */
export type ItemOutcome = ClaimOutcome | Error;

/**
 * Takes every request's key in one `claimMany` round trip; only keys found pending (another
 * producer is mid-publish) go on to the one-key loop of `claimIdempotencyKey`. A store that
 * fails the batch call rejects the whole call (every item would have failed alike).
 */
export async function claimIdempotencyKeys(
  ctx: ClaimContext,
  requests: readonly IdempotencyRequest[],
): Promise<ItemOutcome[]> {
  const idempotency = requests.map((request) => new IdempotencyClaim(ctx, request));
  const first = await ctx.store.claimMany(
    idempotency.map((claim) => ({
      key: claim.storeKey,
      value: claim.pendingOf(claim.request.task.id),
      ttlMs: claim.request.ttlMs,
    })),
  );
  return Promise.all(
    idempotency.map((claim, i) => claim.resolve(first[i]).catch((error: Error) => error)),
  );
}

/** The batch path of unique keys, as `claimIdempotencyKeys`. */
export async function claimUniqueKeys(
  ctx: ClaimContext,
  requests: readonly UniqueRequest[],
): Promise<ItemOutcome[]> {
  const unique = requests.map((request) => new UniqueClaim(ctx, request));
  const first = await ctx.store.claimMany(unique.map((claim) => claim.claimRequest()));
  return Promise.all(
    unique.map((claim, i) => claim.resolve(first[i]).catch((error: Error) => error)),
  );
}

/**
 * Writes a batch's settlements: every replace in one `replaceMany`, releases (a failed publish
 * of a unique key, rare) one by one. Rejects when the store does; the caller logs that.
 */
export async function applySettlements(
  ctx: ClaimContext,
  settlements: readonly Settlement[],
): Promise<void> {
  const replaces = settlements.filter((s) => "replace" in s);
  const releases = settlements.filter((s) => "release" in s);
  await Promise.all([
    replaces.length === 0
      ? undefined
      : ctx.store.replaceMany(replaces.map((s) => s.replace)).then((replaced) => {
          replaces.forEach((s, i) => {
            if (!replaced[i] && s.lost) ctx.warn(s.lost.fields, s.lost.message);
          });
        }),
    ...releases.map((s) => ctx.store.release(s.release.key, s.release.expected)),
  ]);
}

class IdempotencyClaim {
  readonly storeKey: string;
  readonly #leaseMs: number;
  #shared: string | undefined;

  constructor(
    private readonly ctx: ClaimContext,
    readonly request: IdempotencyRequest,
  ) {
    this.storeKey = idempotencyStoreKey(request.key);
    this.#leaseMs = Math.min(ctx.timing.pendingTtlMs, request.ttlMs);
  }

  /**
   * The entry's JSON. The fields every value of this claim shares are encoded once (a batch
   * builds two values per item: pending, then done).
   */
  #value(state: "pending" | "done", taskId: string, lease = this.#leaseMs): string {
    const { request } = this;
    this.#shared ??= JSON.stringify({
      fp: request.fingerprint,
      created_at: request.task.created_at,
      queue: request.task.queue,
      priority: request.task.priority,
      ...(request.task.run_at !== undefined ? { run_at: request.task.run_at } : {}),
    } satisfies Partial<IdempotencyValue>).slice(1, -1);
    const lifetime = state === "pending" ? `,"ttl_ms":${request.ttlMs},"lease_ms":${lease}` : "";
    return `{"state":"${state}","id":${JSON.stringify(taskId)},${this.#shared}${lifetime}}`;
  }

  pendingOf(taskId: string): string {
    return this.#value("pending", taskId);
  }

  #won(id: string, pending: string): Won {
    const { storeKey, request } = this;
    return {
      won: true,
      id,
      settle: (published, finalId = id): Settlement => {
        if (!published) {
          // Not released: the key keeps its task id, and a retry takes it over at once.
          return {
            replace: {
              key: storeKey,
              expected: pending,
              value: this.#value("pending", id, 0),
              ttlMs: request.ttlMs,
            },
          };
        }
        return {
          replace: {
            key: storeKey,
            expected: pending,
            value: this.#value("done", finalId),
            ttlMs: request.ttlMs,
          },
          lost: {
            fields: { event: "idempotency_claim_lost", task_id: finalId },
            message:
              "another submission took over this idempotency key while the broker confirmed (the publish outlasted the pending lease); the task may be enqueued twice under this id",
          },
        };
      },
    };
  }

  /** Settles what `claim` answered (claiming first when `answer` is undefined). */
  async resolve(answer: ClaimResult | undefined): Promise<ClaimOutcome> {
    const { ctx, request, storeKey } = this;
    const { store, timing } = ctx;
    const deadline = ctx.now() + timing.waitMs;
    let result = answer;
    for (;;) {
      const pending = this.pendingOf(request.task.id);
      result ??= await store.claim(storeKey, pending, request.ttlMs);
      if (result.claimed) return this.#won(request.task.id, pending);
      const { holder: entry } = result;
      result = undefined;
      const holder = decode(entry.value);
      if (holder.fp !== request.fingerprint) {
        throw new IdempotencyKeyReusedError(
          request.key,
          `idempotency_key ${JSON.stringify(request.key)} was already used for a different submission (function, payload, queue, priority or options differ) within its TTL; use a new key for a new submission`,
        );
      }
      if (typeof holder.id !== "string") {
        throw new UnavailableError(
          `the coordination store holds an unreadable entry for idempotency_key ${JSON.stringify(request.key)}`,
        );
      }
      if (holder.state === "done") {
        return {
          won: false,
          task: {
            ...request.task,
            id: holder.id,
            created_at: holder.created_at ?? request.task.created_at,
            queue: holder.queue ?? request.task.queue,
            priority: holder.priority ?? request.task.priority,
            ...(holder.run_at !== undefined ? { run_at: holder.run_at } : {}),
            duplicate: true,
          },
        };
      }
      // Pending. Its age by the store's clock: the TTL it was claimed with minus what is left.
      const ageMs = (holder.ttl_ms ?? 0) - entry.ttlMs;
      if (ageMs >= (holder.lease_ms ?? 0)) {
        // Abandoned (its producer died or its publish failed): take it over, keeping its task
        // id, so that whatever it may have enqueued and what this one enqueues are one task.
        const takeover = this.pendingOf(holder.id);
        if (await store.replace(storeKey, entry.value, takeover, request.ttlMs)) {
          return this.#won(holder.id, takeover);
        }
        continue;
      }
      if (ctx.now() >= deadline) throw stillPending("idempotency_key", request.key, timing.waitMs);
      const leaseLeftMs = (holder.lease_ms ?? 0) - ageMs;
      await sleep(Math.max(1, Math.min(timing.pollMs, leaseLeftMs)));
    }
  }
}

class UniqueClaim {
  readonly #storeKey: string;
  readonly #pending: string;

  constructor(
    private readonly ctx: ClaimContext,
    private readonly request: UniqueRequest,
  ) {
    this.#storeKey = uniqueStoreKey(request.key);
    this.#pending = uniqueClaimValue("pending", request.task.id, request.task.created_at);
  }

  claimRequest(): ClaimRequest {
    return {
      key: this.#storeKey,
      value: this.#pending,
      ttlMs: Math.min(this.ctx.timing.pendingTtlMs, this.request.ttlMs),
    };
  }

  async resolve(answer: ClaimResult | undefined): Promise<ClaimOutcome> {
    const { ctx, request } = this;
    const storeKey = this.#storeKey;
    const pending = this.#pending;
    const deadline = ctx.now() + ctx.timing.waitMs;
    const { id, created_at } = request.task;
    let result = answer;
    for (;;) {
      if (result === undefined) {
        const claim = this.claimRequest();
        result = await ctx.store.claim(claim.key, claim.value, claim.ttlMs);
      }
      if (result.claimed) {
        return {
          won: true,
          id,
          // A replace that finds nothing is normal here: a fast worker may already have
          // released the key.
          settle: (published): Settlement =>
            published
              ? {
                  replace: {
                    key: storeKey,
                    expected: pending,
                    value: uniqueClaimValue("done", id, created_at),
                    ttlMs: request.ttlMs,
                  },
                }
              : { release: { key: storeKey, expected: pending } },
        };
      }
      const { holder: entry } = result;
      result = undefined;
      const holder = decode(entry.value);
      if (holder.state === "done" && typeof holder.id === "string") {
        return {
          won: false,
          task: {
            ...request.task,
            id: holder.id,
            created_at: holder.created_at ?? created_at,
            duplicate: true,
          },
        };
      }
      if (ctx.now() >= deadline) throw stillPending("unique key", request.key, ctx.timing.waitMs);
      await sleep(Math.min(ctx.timing.pollMs, entry.ttlMs + 1));
    }
  }
}

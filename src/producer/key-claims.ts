import type { CoordinationStore } from "../coordination/coordination-store.js";
import { IdempotencyKeyReusedError, UnavailableError } from "../core/errors.js";
import { sleep } from "../core/lifecycle.js";
import { uniqueClaimValue, uniqueStoreKey } from "../core/submission-identity.js";
import type { SubmittedTask } from "./prepared-task.js";

// Taking an idempotency key or a unique key in the coordination store, crash-safely:
//
// 1. claim the key with a SHORT pending value {state:"pending", id, …} (default 30 s), where id
//    is the task id the producer is about to publish;
// 2. publish to the broker;
// 3. replace pending → {state:"done", id, …} for the key's full TTL (24 h by default).
//
// A producer that dies between 1 and 3 leaves a pending claim that expires within 30 s, not a
// key stuck for 24 h. A concurrent copy that finds a pending claim polls it: once it is done,
// the copy answers its id (a duplicate); if it expires instead (its producer died), the copy
// takes the key itself, reusing the dead claim's task id, so that a task the dead producer did
// get into the broker and the copy's are one task id, not two. A publish that fails releases
// the pending claim at once, so a retry need not wait for it to expire.

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

/** The caller won the key: publish `id`, then settle() with whether the broker took it. */
export interface Won {
  won: true;
  id: string;
  settle(published: boolean, finalId?: string): Promise<void>;
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

export async function claimIdempotencyKey(
  ctx: ClaimContext,
  request: IdempotencyRequest,
): Promise<ClaimOutcome> {
  const { store, timing } = ctx;
  const storeKey = idempotencyStoreKey(request.key);
  const deadline = ctx.now() + timing.waitMs;
  let id = request.task.id;
  for (;;) {
    const value = (state: "pending" | "done", taskId: string) => {
      const v: IdempotencyValue = {
        state,
        id: taskId,
        fp: request.fingerprint,
        created_at: request.task.created_at,
        queue: request.task.queue,
        priority: request.task.priority,
        ...(request.task.run_at !== undefined ? { run_at: request.task.run_at } : {}),
      };
      return JSON.stringify(v);
    };
    const pending = value("pending", id);
    const result = await store.claim(
      storeKey,
      pending,
      Math.min(timing.pendingTtlMs, request.ttlMs),
    );
    if (result.claimed) {
      return {
        won: true,
        id,
        settle: async (published, finalId = id) => {
          const ok = published
            ? await store.replace(storeKey, pending, value("done", finalId), request.ttlMs)
            : await store.release(storeKey, pending);
          if (published && !ok) {
            ctx.warn(
              { event: "idempotency_claim_lost", task_id: finalId },
              "the idempotency key's pending claim expired before the broker confirmed; a retry after it expired may have enqueued the task again",
            );
          }
        },
      };
    }
    const holder = decode(result.holder.value);
    if (holder.fp !== request.fingerprint) {
      throw new IdempotencyKeyReusedError(
        request.key,
        `idempotency_key ${JSON.stringify(request.key)} was already used for a different submission (function, payload, queue, priority or options differ) within its TTL; use a new key for a new submission`,
      );
    }
    if (holder.state === "done" && typeof holder.id === "string") {
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
    // Pending: if it expires, take over its task id (see the header).
    if (typeof holder.id === "string") id = holder.id;
    if (ctx.now() >= deadline) throw stillPending("idempotency_key", request.key, timing.waitMs);
    await sleep(Math.min(timing.pollMs, result.holder.ttlMs + 1));
  }
}

export async function claimUniqueKey(
  ctx: ClaimContext,
  request: UniqueRequest,
): Promise<ClaimOutcome> {
  const { store, timing } = ctx;
  const storeKey = uniqueStoreKey(request.key);
  const deadline = ctx.now() + timing.waitMs;
  const { id, created_at } = request.task;
  const pending = uniqueClaimValue("pending", id, created_at);
  for (;;) {
    const result = await store.claim(
      storeKey,
      pending,
      Math.min(timing.pendingTtlMs, request.ttlMs),
    );
    if (result.claimed) {
      return {
        won: true,
        id,
        settle: async (published) => {
          // A false replace is normal here: a fast worker may already have released the key.
          if (published) {
            await store.replace(
              storeKey,
              pending,
              uniqueClaimValue("done", id, created_at),
              request.ttlMs,
            );
          } else {
            await store.release(storeKey, pending);
          }
        },
      };
    }
    const holder = decode(result.holder.value);
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
    if (ctx.now() >= deadline) throw stillPending("unique key", request.key, timing.waitMs);
    await sleep(Math.min(timing.pollMs, result.holder.ttlMs + 1));
  }
}

import type { CoordinationStore } from "../coordination/coordination-store.js";
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
  const leaseMs = Math.min(timing.pendingTtlMs, request.ttlMs);
  const value = (state: "pending" | "done", taskId: string, lease = leaseMs) => {
    const v: IdempotencyValue = {
      state,
      id: taskId,
      fp: request.fingerprint,
      created_at: request.task.created_at,
      queue: request.task.queue,
      priority: request.task.priority,
      ...(request.task.run_at !== undefined ? { run_at: request.task.run_at } : {}),
      ...(state === "pending" ? { ttl_ms: request.ttlMs, lease_ms: lease } : {}),
    };
    return JSON.stringify(v);
  };
  const won = (id: string, pending: string): Won => ({
    won: true,
    id,
    settle: async (published, finalId = id) => {
      if (!published) {
        // Not released: the key keeps its task id, and a retry takes it over at once.
        await store.replace(storeKey, pending, value("pending", id, 0), request.ttlMs);
        return;
      }
      if (!(await store.replace(storeKey, pending, value("done", finalId), request.ttlMs))) {
        ctx.warn(
          { event: "idempotency_claim_lost", task_id: finalId },
          "another submission took over this idempotency key while the broker confirmed (the publish outlasted the pending lease); the task may be enqueued twice under this id",
        );
      }
    },
  });
  for (;;) {
    const pending = value("pending", request.task.id);
    const result = await store.claim(storeKey, pending, request.ttlMs);
    if (result.claimed) return won(request.task.id, pending);
    const holder = decode(result.holder.value);
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
    const ageMs = (holder.ttl_ms ?? 0) - result.holder.ttlMs;
    if (ageMs >= (holder.lease_ms ?? 0)) {
      // Abandoned (its producer died or its publish failed): take it over, keeping its task id,
      // so that whatever it may have enqueued and what this one enqueues are one task.
      const takeover = value("pending", holder.id);
      if (await store.replace(storeKey, result.holder.value, takeover, request.ttlMs)) {
        return won(holder.id, takeover);
      }
      continue;
    }
    if (ctx.now() >= deadline) throw stillPending("idempotency_key", request.key, timing.waitMs);
    const leaseLeftMs = (holder.lease_ms ?? 0) - ageMs;
    await sleep(Math.max(1, Math.min(timing.pollMs, leaseLeftMs)));
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

import { randomUUID } from "node:crypto";
import type { CoordinationStore, Entry } from "../coordination/coordination-store.js";

// Claiming one tick of one schedule, so that of all the scheduler processes exactly one submits
// it. The entry `schedule:tick:<id>:<tick ms>` lives for the retention (longer than any process
// looks back) and holds either
//
//   {state:"pending", holder, lease_ms, ttl_ms}   a process is submitting the tick, or
//   {state:"done", task_id, outcome}               the tick is settled.
//
// A pending entry's age is read from the store's clock (the TTL it was written with minus the TTL
// it has left), never from a process clock. Once older than its lease, its holder is presumed dead
// (kill -9 between claim and settle) and another process takes it over by compare-and-replace:
// exactly one successor wins, and it submits the tick again with the same idempotency key, so a
// task the dead holder did get into the broker is answered back instead of enqueued twice.

export type TickClaim =
  /** This process holds the tick: submit it, then `settle` or `abandon`. */
  | { won: true; takeover: boolean; pending: string }
  /** Another process settled it. */
  | { won: false; done: true }
  /** Another process holds it and its lease runs: look again later. */
  | { won: false; done: false };

interface PendingValue {
  state: "pending";
  holder: string;
  lease_ms: number;
  ttl_ms: number;
  nonce: string;
}

interface DoneValue {
  state: "done";
  task_id?: string;
  outcome: string;
}

export function tickKey(scheduleId: string, tick: number): string {
  return `schedule:tick:${scheduleId}:${tick}`;
}

export interface TickClaimTiming {
  /** How long a holder may take to submit before others take the tick over (ms). */
  leaseMs: number;
  /** How long a tick's entry lives (ms): longer than any scheduler looks back. */
  retentionMs: number;
}

export async function claimTick(
  store: CoordinationStore,
  key: string,
  holder: string,
  timing: TickClaimTiming,
): Promise<TickClaim> {
  const pending = pendingValue(holder, timing);
  const first = await store.claim(key, pending, timing.retentionMs);
  if (first.claimed) return { won: true, takeover: false, pending };
  const held = first.holder;
  const value = decode(held);
  if (value?.state === "done") return { won: false, done: true };
  if (value?.state === "pending" && !expired(value, held)) return { won: false, done: false };
  // A dead holder's claim (or an entry we cannot read): exactly one taker wins the replace.
  if (await store.replace(key, held.value, pending, timing.retentionMs)) {
    return { won: true, takeover: true, pending };
  }
  return { won: false, done: false };
}

/** Marks the tick settled, unless a successor took it over meanwhile (then it settles it). */
export async function settleTick(
  store: CoordinationStore,
  key: string,
  pending: string,
  done: { taskId?: string; outcome: string },
  retentionMs: number,
): Promise<void> {
  const value: DoneValue = {
    state: "done",
    outcome: done.outcome,
    ...(done.taskId !== undefined ? { task_id: done.taskId } : {}),
  };
  await store.replace(key, pending, JSON.stringify(value), retentionMs);
}

/** Gives the tick back at once (the submission failed): the next pass may try it again. */
export async function abandonTick(
  store: CoordinationStore,
  key: string,
  pending: string,
): Promise<void> {
  await store.release(key, pending);
}

function pendingValue(holder: string, timing: TickClaimTiming): string {
  const value: PendingValue = {
    state: "pending",
    holder,
    lease_ms: timing.leaseMs,
    ttl_ms: timing.retentionMs,
    nonce: randomUUID(),
  };
  return JSON.stringify(value);
}

function expired(value: PendingValue, entry: Entry): boolean {
  const age = value.ttl_ms - entry.ttlMs;
  return age >= value.lease_ms;
}

function decode(entry: Entry): PendingValue | DoneValue | undefined {
  try {
    const value = JSON.parse(entry.value) as PendingValue | DoneValue;
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}

import { newTaskId } from "../../core/ids.js";
import type { TaskEvent, TaskRecord, TrackingStore } from "../tracking-store.js";

// Test data shared by the tracking conformance cases: realistic event sequences and a seeded
// shuffle (a failing order can be replayed). Named *.case.ts so the build leaves it out, like the
// suite itself.

/** A fixed instant, so every case computes the same times. */
export const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
export const MINUTE = 60_000;
export const DAY = 86_400_000;

export function taskId(): string {
  return newTaskId();
}

/** What the producer records at submission: every descriptive field. */
export function submitted(
  id: string,
  createdAt: number,
  extra: Partial<TaskEvent> = {},
): TaskEvent {
  return {
    taskId: id,
    run: 0,
    attempt: 0,
    status: "PENDING",
    at: createdAt,
    functionKey: "demo.flaky",
    queue: "default",
    priority: 5,
    payload: { failures: 1 },
    maxRetries: 3,
    timeoutMs: 30_000,
    metadata: { tenant: "acme" },
    idempotencyKey: `key-${id}`,
    createdAt,
    ...extra,
  };
}

/** The five events of flakyLifecycle, in the order they happen. */
export type Lifecycle = [TaskEvent, TaskEvent, TaskEvent, TaskEvent, TaskEvent];

/**
 * A task that fails once and succeeds on its retry, as a producer and two workers report it:
 * PENDING(0), STARTED(0), PENDING(1) with the error and runAt, STARTED(1), SUCCESS(1).
 */
export function flakyLifecycle(id: string, createdAt: number): Lifecycle {
  const worker = { taskId: id, run: 0, functionKey: "demo.flaky", queue: "default" };
  return [
    submitted(id, createdAt),
    {
      ...worker,
      attempt: 0,
      status: "STARTED",
      at: createdAt + 10,
      startedAt: createdAt + 10,
      workerId: "w1",
      deliveryCount: 1,
    },
    {
      ...worker,
      attempt: 1,
      status: "PENDING",
      at: createdAt + 20,
      runAt: createdAt + 1_020,
      workerId: "w1",
      error: { message: "flaky failure 1", type: "Error" },
    },
    {
      ...worker,
      attempt: 1,
      status: "STARTED",
      at: createdAt + 1_030,
      startedAt: createdAt + 1_030,
      workerId: "w2",
      deliveryCount: 1,
    },
    {
      ...worker,
      attempt: 1,
      status: "SUCCESS",
      at: createdAt + 1_050,
      completedAt: createdAt + 1_050,
      durationMs: 20,
      result: { attempts: 2 },
      workerId: "w2",
    },
  ];
}

/** The fields every store must show once a flakyLifecycle has been merged, in any order. */
export function flakyOutcome(id: string, createdAt: number): Partial<TaskRecord> {
  return {
    id,
    status: "SUCCESS",
    run: 0,
    attempt: 1,
    functionKey: "demo.flaky",
    queue: "default",
    priority: 5,
    payload: { failures: 1 },
    maxRetries: 3,
    timeoutMs: 30_000,
    metadata: { tenant: "acme" },
    idempotencyKey: `key-${id}`,
    createdAt: new Date(createdAt).toISOString(),
    startedAt: new Date(createdAt + 1_030).toISOString(),
    completedAt: new Date(createdAt + 1_050).toISOString(),
    durationMs: 20,
    result: { attempts: 2 },
    error: null,
    workerId: "w2",
    deliveryCount: 1,
    updatedAt: new Date(createdAt + 1_050).toISOString(),
  };
}

/** mulberry32: a tiny seeded PRNG, so a shuffled order that fails can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** Splits `items` into consecutive groups of 1 to `max` items. */
export function groups<T>(items: readonly T[], max: number, random: () => number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; ) {
    const size = 1 + Math.floor(random() * max);
    out.push(items.slice(i, i + size));
    i += size;
  }
  return out;
}

/** A record with the id taken out, to compare the same history recorded under different ids. */
export function withoutId(
  record: TaskRecord | undefined,
): Omit<TaskRecord, "id" | "idempotencyKey"> {
  if (!record) throw new Error("expected a tracked record, found none");
  const { id: _id, idempotencyKey: _key, ...rest } = record;
  return rest;
}

/** Every page of a query, following cursors; fails on a cycle instead of looping forever. */
export async function allPages(
  store: TrackingStore,
  query: Parameters<TrackingStore["list"]>[0],
): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await store.list({ ...query, ...(cursor ? { cursor } : {}) });
    ids.push(...page.tasks.map((t) => t.id));
    cursor = page.nextCursor;
    pages += 1;
    if (pages > 1_000) throw new Error("list() kept returning a next cursor");
  } while (cursor);
  return { ids, pages };
}

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { referenceRows } from "../../../test/support/redis-rows-reference.js";
import { TASK_STATUSES, type TaskStatus } from "../../core/status.js";
import type { TaskErrorInfo, TaskEvent } from "../tracking-store.js";
import { encodeRows, type RowLimits } from "./row-encoding.js";
import { VALUE_SEPARATOR } from "./task-hash.js";

// encodeRows must give exactly the bytes of the general path it replaces (collapse with
// sql/merge.ts, then pushRowArgs: test/support/redis-rows-reference.ts), for every batch: the
// record script reads them positionally, and the SQL and Redis stores must converge to the same
// records. Batches are generated from a seeded generator, so a failure names a batch that can be
// replayed.

const SEED = 0x5eed_7a5c;
const LARGE: RowLimits = { rowsPerCall: 1_000, charsPerCall: 8 * 1024 * 1024 };
/** Date.now() stands in for an event time that is not finite (rows.ts): pinned so both paths agree. */
const NOW = 1_767_225_600_000;

/** mulberry32: small, seedable, good enough to pick test cases. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => next() < p;
  return { int, pick, chance };
}
type Random = ReturnType<typeof generator>;

function circular(): Record<string, unknown> {
  const value: Record<string, unknown> = { name: "loop" };
  value.self = value;
  return value;
}

// Values chosen to hit every defensive rule of rows.ts: NUL in text, numbers that are not
// finite or not integers or too large for 13 digits of sort_at, values JSON cannot encode
// (BigInt, cycles) or encodes as nothing (functions, symbols, toJSON returning undefined), and
// function keys whose lowercase differs (including where Unicode lowercasing changes the length).
const TEXTS = ["", "plain", "Mixed Case", "nul\u0000inside", "ünïcødé", "İstanbul", "ΣΊΣΥΦΟΣ"];
const FUNCTION_KEYS = [
  "send_email",
  "Send.Email",
  "reports.İndex",
  "ΟΔΟΣ.run",
  "key\u0000with.nul",
  "",
  "ǅ.title",
];
const NUMBERS = [0, 1, 3, -2, 2.9, -0.4, 30_000, NaN, Infinity, -Infinity, 1e21, 2 ** 53 + 2];
const TIMES = [
  NOW - 5_000,
  NOW + 12.7,
  NOW - 0.5,
  0,
  -1_000,
  999,
  1_000,
  1_000_000_000_007,
  999_999_999_999,
  1e14,
  99_999_999_999_999,
  2 ** 53 + 2,
  1e21,
  NaN,
  Infinity,
];

function jsonish(random: Random, largeChars: number): unknown {
  switch (random.int(14)) {
    case 0:
      return undefined;
    case 1:
      return null;
    case 2:
      return random.pick(NUMBERS);
    case 3:
      return random.pick(TEXTS);
    case 4:
      return { n: random.int(1000), text: random.pick(TEXTS), list: [1, "two", null] };
    case 5:
      return [random.pick(TEXTS), { nested: { deep: true } }];
    case 6:
      return BigInt(random.int(1000));
    case 7:
      return circular();
    case 8:
      return () => "a function";
    case 9:
      return { toJSON: () => undefined };
    case 10:
      return Symbol("not json");
    case 11:
      return "x".repeat(random.int(largeChars));
    default:
      return { id: random.int(100), ok: random.chance(0.5) };
  }
}

function errorInfo(random: Random): TaskErrorInfo | undefined {
  switch (random.int(7)) {
    case 0:
    case 1:
      return undefined;
    case 2:
      return { message: random.pick(TEXTS), type: "Error" };
    case 3:
      return { message: "Boom İ\u0000", type: "TypeError", stack: "at line 1\nat line 2" };
    case 4:
      // Not what the type promises, but what a careless sink may pass along.
      return { message: 42, type: "Error" } as unknown as TaskErrorInfo;
    case 5:
      // JSON encodes this error as nothing: error NULL, error_search still set (rows.ts).
      return { message: "Hidden", type: "Error", toJSON: () => undefined } as TaskErrorInfo;
    default:
      return Object.assign(circular(), { message: "Cyclic", type: "Error" }) as TaskErrorInfo;
  }
}

/** Some of the optional fields, each present with probability `p`. */
function event(random: Random, taskId: string, p: number, largeChars: number): TaskEvent {
  const e: TaskEvent = {
    taskId,
    run: random.chance(0.9) ? random.int(3) : random.pick(NUMBERS),
    attempt: random.chance(0.9) ? random.int(4) : random.pick(NUMBERS),
    status: random.pick(TASK_STATUSES),
    at: random.chance(0.9) ? NOW - random.int(100_000) : random.pick(TIMES),
  };
  const maybe = (assign: () => void) => {
    if (random.chance(p)) assign();
  };
  maybe(() => {
    e.functionKey = random.pick(FUNCTION_KEYS);
  });
  maybe(() => {
    e.queue = random.pick(TEXTS);
  });
  maybe(() => {
    e.priority = random.pick(NUMBERS);
  });
  maybe(() => {
    e.payload = jsonish(random, largeChars);
  });
  maybe(() => {
    e.maxRetries = random.pick(NUMBERS);
  });
  maybe(() => {
    e.timeoutMs = random.pick(NUMBERS);
  });
  maybe(() => {
    e.metadata = random.pick([{}, { team: "a" }, { k: "nul\u0000" }, circular()]) as Record<
      string,
      string
    >;
  });
  maybe(() => {
    e.idempotencyKey = random.pick(TEXTS);
  });
  maybe(() => {
    e.createdAt = random.chance(0.7) ? NOW - random.int(200_000) : random.pick(TIMES);
  });
  maybe(() => {
    e.startedAt = random.pick(TIMES);
  });
  maybe(() => {
    e.completedAt = random.pick(TIMES);
  });
  maybe(() => {
    e.durationMs = random.pick(NUMBERS);
  });
  maybe(() => {
    e.result = jsonish(random, largeChars);
  });
  maybe(() => {
    e.error = errorInfo(random);
  });
  maybe(() => {
    e.workerId = random.pick(TEXTS);
  });
  maybe(() => {
    e.deliveryCount = random.pick(NUMBERS);
  });
  maybe(() => {
    e.runAt = random.pick(TIMES);
  });
  maybe(() => {
    e.deadLetterReason = random.pick(TEXTS);
  });
  return e;
}

/** A batch of anything: few task ids (so events merge), random order, duplicates. */
function randomBatch(random: Random, largeChars: number): TaskEvent[] {
  // "t\u0000x" and "t\uFFFDx" are one task once NUL is replaced (rows.ts dbText).
  const ids = ["t-1", "t-2", "t\u0000x", "t\uFFFDx", "İD-ß", "t-3", "t-4"].slice(
    0,
    1 + random.int(7),
  );
  const events: TaskEvent[] = [];
  const count = 1 + random.int(30);
  for (let i = 0; i < count; i += 1) {
    if (events.length > 0 && random.chance(0.1)) {
      events.push({ ...random.pick(events) });
      continue;
    }
    events.push(event(random, random.pick(ids), random.pick([0.1, 0.5, 0.9]), largeChars));
  }
  return events;
}

/** A producer's flush: one PENDING per task with every descriptive field. */
function producerBatch(random: Random, tasks: number): TaskEvent[] {
  const metadata: Record<string, string>[] = [{}, { team: "a" }];
  return Array.from({ length: tasks }, (_, i) => ({
    taskId: `p-${i}`,
    run: 0,
    attempt: 0,
    status: "PENDING" as const,
    at: NOW + i,
    functionKey: random.pick(FUNCTION_KEYS),
    queue: "default",
    priority: random.int(10),
    payload: { n: i, text: random.pick(TEXTS) },
    maxRetries: 3,
    timeoutMs: 30_000,
    metadata: random.pick(metadata),
    createdAt: NOW + i - 3,
    ...(random.chance(0.2) ? { idempotencyKey: `idem-${i}` } : {}),
  }));
}

/**
 * A worker's flush: per task STARTED then an outcome of the same (run, attempt), both with the
 * descriptive fields; some tasks retried (FAILURE, then the next attempt's PENDING and STARTED),
 * interleaved as tasks finish out of step, and the flush order occasionally shuffled.
 */
function workerBatch(random: Random, tasks: number): TaskEvent[] {
  const events: TaskEvent[] = [];
  for (let i = 0; i < tasks; i += 1) {
    const attempt = random.int(3);
    const base = {
      taskId: `w-${i % Math.max(1, tasks - random.int(3))}`,
      run: 0,
      attempt,
      at: NOW + i * 10,
      functionKey: "Work.Item",
      queue: "default",
      priority: 5,
      payload: { i },
      metadata: {},
      maxRetries: 3,
      timeoutMs: 30_000,
      createdAt: NOW - 1_000,
      workerId: "w-1",
      deliveryCount: 1 + random.int(2),
    };
    const status: TaskStatus = random.pick(["SUCCESS", "SUCCESS", "FAILURE", "CANCELED"]);
    events.push({ ...base, status: "STARTED", startedAt: base.at });
    const outcome: TaskEvent = {
      ...base,
      status,
      at: base.at + 3,
      completedAt: base.at + 3,
      durationMs: 3,
    };
    if (status === "SUCCESS") outcome.result = { ok: true, i };
    else outcome.error = { message: `Failed ${i}`, type: "Error" };
    if (status === "FAILURE" && random.chance(0.5)) {
      // A retry: the failure is recorded as the next attempt's PENDING with runAt.
      events.push({ ...outcome, status: "PENDING", attempt: attempt + 1, runAt: base.at + 100 });
    } else {
      events.push(outcome);
    }
  }
  if (random.chance(0.3)) {
    for (let i = events.length - 1; i > 0; i -= 1) {
      const j = random.int(i + 1);
      [events[i], events[j]] = [events[j] as TaskEvent, events[i] as TaskEvent];
    }
  }
  return events;
}

/** NUL shown, so a failure prints something readable (the exact comparison follows). */
const visible = (calls: string[]) => calls.map((c) => c.replaceAll(VALUE_SEPARATOR, "␀"));

function expectSameRows(events: readonly TaskEvent[], limits: RowLimits, label: string) {
  const expected = referenceRows(events, limits);
  const actual = encodeRows(events, limits);
  expect(visible(actual), label).toEqual(visible(expected));
  expect(actual, label).toEqual(expected);
}

describe("encodeRows", () => {
  beforeEach(() => {
    vi.spyOn(Date, "now").mockReturnValue(NOW);
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("gives the general path's bytes for random batches (statuses, attempts, order, odd values)", () => {
    const random = generator(SEED);
    for (let batch = 0; batch < 3_000; batch += 1) {
      const events = randomBatch(random, 40);
      expectSameRows(events, LARGE, `random batch ${batch} (seed ${SEED})`);
    }
  });

  it("splits calls where the general path does (rows and characters per call)", () => {
    const random = generator(SEED + 1);
    for (let batch = 0; batch < 2_000; batch += 1) {
      const events = randomBatch(random, 600);
      const limits = { rowsPerCall: 1 + random.int(4), charsPerCall: 50 + random.int(1_500) };
      expectSameRows(events, limits, `split batch ${batch} (seed ${SEED + 1})`);
    }
  });

  it("gives the general path's bytes for producer and worker flushes", () => {
    const random = generator(SEED + 2);
    for (let batch = 0; batch < 100; batch += 1) {
      const tasks = 1 + random.int(300);
      expectSameRows(producerBatch(random, tasks), LARGE, `producer batch ${batch}`);
      expectSameRows(workerBatch(random, tasks), LARGE, `worker batch ${batch}`);
      expectSameRows(
        workerBatch(random, tasks),
        { rowsPerCall: 7, charsPerCall: 2_000 },
        `split worker batch ${batch}`,
      );
    }
  });

  it("closes a call at rowsPerCall rows, and after the row that reaches charsPerCall", () => {
    const random = generator(SEED + 3);
    const events = producerBatch(random, 10);
    expect(encodeRows(events, { rowsPerCall: 4, charsPerCall: 1e9 }).length).toBe(3);
    // Every row is longer than 10 characters: one row per call, none split.
    const calls = encodeRows(events, { rowsPerCall: 1_000, charsPerCall: 10 });
    expect(calls.length).toBe(10);
    expect(calls.join(VALUE_SEPARATOR)).toBe(encodeRows(events, LARGE)[0]);
  });

  it("encodes one row per task for a STARTED and SUCCESS of the same attempt", () => {
    const base = { taskId: "a", run: 0, attempt: 0, functionKey: "Job", payload: { n: 1 } };
    const [rows] = encodeRows(
      [
        { ...base, status: "STARTED", at: 1_000, startedAt: 1_000 },
        { ...base, status: "SUCCESS", at: 1_005, completedAt: 1_005, result: 7 },
      ],
      LARGE,
    );
    expect(rows?.split(VALUE_SEPARATOR)).toEqual([
      "a",
      "ABEKNORXY",
      "Job",
      "job",
      '{"n":1}',
      "SUCCESS",
      "1000",
      "1005",
      "7",
      "0000000001000",
      "1005",
    ]);
  });
});

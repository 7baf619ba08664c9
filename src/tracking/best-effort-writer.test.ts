import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it, vi } from "vitest";
import { GoTaskQError, UnavailableError } from "../core/errors.js";
import { BestEffortWriter, type BestEffortWriterOptions } from "./best-effort-writer.js";
import {
  flakyLifecycle,
  flakyOutcome,
  submitted,
  T0,
  taskId,
} from "./conformance/fixtures.case.js";
import { openSqlTrackingStore } from "./sql/sql-tracking-store.js";
import type {
  PurgeResult,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskUpdatesQuery,
  ThroughputBucket,
  ThroughputQuery,
  TrackingStore,
  WorkerHeartbeat,
} from "./tracking-store.js";

// The writer runs against a real (in-memory SQLite) store wrapped in a decorator that can take
// the store "down", refuse one poisoned task, or hold writes open: no mocks of the seam.

const POISON = "poison-task";

class FaultInjectingStore implements TrackingStore {
  readonly kind = "faulty";
  /** While true every call fails as a store that cannot be reached would. */
  down = false;
  /** While set, writes wait for it to resolve (a slow store). */
  hold: Promise<void> | undefined;
  readonly recordBatches: number[] = [];

  constructor(readonly inner: TrackingStore) {}

  async #gate(): Promise<void> {
    if (this.hold) await this.hold;
    if (this.down) throw new UnavailableError("injected: tracking store is down");
  }

  migrate(): Promise<void> {
    return this.inner.migrate();
  }
  async record(events: readonly TaskEvent[]): Promise<void> {
    await this.#gate();
    if (events.some((e) => e.taskId === POISON)) {
      throw new GoTaskQError("internal", "injected: the store refuses this task");
    }
    this.recordBatches.push(events.length);
    await this.inner.record(events);
  }
  async appendLogs(lines: readonly TaskLogLine[]): Promise<void> {
    await this.#gate();
    await this.inner.appendLogs(lines);
  }
  async heartbeat(workers: readonly WorkerHeartbeat[]): Promise<void> {
    await this.#gate();
    await this.inner.heartbeat(workers);
  }
  get(id: string): Promise<TaskRecord | undefined> {
    return this.inner.get(id);
  }
  list(query: TaskQuery): Promise<TaskPage> {
    return this.inner.list(query);
  }
  logs(id: string, options?: { limit?: number }): Promise<TaskLogLine[]> {
    return this.inner.logs(id, options);
  }
  workers(options: { seenSince: number }): Promise<WorkerHeartbeat[]> {
    return this.inner.workers(options);
  }
  updates(query: TaskUpdatesQuery): Promise<TaskRecord[]> {
    return this.inner.updates(query);
  }
  throughput(query: ThroughputQuery): Promise<ThroughputBucket[]> {
    return this.inner.throughput(query);
  }
  purge(options: { olderThan: number }): Promise<PurgeResult> {
    return this.inner.purge(options);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

class SynchronouslyThrowingStore extends FaultInjectingStore {
  override record(): Promise<void> {
    throw new Error("synchronous failure");
  }
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: BestEffortWriterOptions = {}) {
  const inner = await openSqlTrackingStore("sqlite::memory:");
  await inner.migrate();
  const store = new FaultInjectingStore(inner);
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string });
      done();
    },
  });
  const writer = new BestEffortWriter(store, { logger: pino({ level: "info" }, sink), ...options });
  cleanups.push(async () => {
    await writer.stop();
    await store.close();
  });
  return { store, writer, lines };
}

function line(id: string, message: string): TaskLogLine {
  return { taskId: id, attempt: 0, at: T0, level: "info", message };
}

function heartbeat(workerId: string, seenAt: number): WorkerHeartbeat {
  return {
    workerId,
    host: "h",
    pid: 1,
    queues: ["default"],
    concurrency: 4,
    running: seenAt,
    functions: [],
    version: "0.1.0",
    startedAt: T0,
    seenAt,
  };
}

describe("BestEffortWriter", () => {
  it("flushes at once when a batch is full, taking up to maxFlushItems (the whole backlog once behind), and a partial batch after the interval", async () => {
    const { store, writer } = await setup({
      batchSize: 50,
      maxFlushItems: 100,
      flushIntervalMs: 80,
    });
    await writer.start();
    const ids = Array.from({ length: 230 }, () => taskId());
    for (const [i, id] of ids.entries()) writer.record(submitted(id, T0 + i));
    await vi.waitFor(() => expect(writer.stats().written).toBe(230), { timeout: 5_000 });
    // All 230 were buffered before the first flush ran: more than maxFlushItems, so the writer
    // is behind and takes the whole backlog at once.
    expect(store.recordBatches).toEqual([230]);
    const more = Array.from({ length: 130 }, () => taskId());
    for (const [i, id] of more.entries()) {
      writer.record(submitted(id, T0 + i));
      // Keeping up: each full batch goes out before the next is recorded.
      if ((i + 1) % 50 === 0) await vi.waitFor(() => expect(writer.stats().pending).toBe(0));
    }
    await vi.waitFor(() => expect(writer.stats().written).toBe(360), { timeout: 5_000 });
    // 50 and 50 at once (a batch was buffered), the last 30 after the interval.
    expect(store.recordBatches).toEqual([230, 50, 50, 30]);
    expect((await store.list({ limit: 500 })).tasks).toHaveLength(360);

    const started = Date.now();
    writer.record(submitted(taskId(), T0));
    expect(writer.stats().pending).toBe(1);
    await vi.waitFor(() => expect(writer.stats().written).toBe(361), {
      timeout: 5_000,
      interval: 5,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    expect(writer.stats()).toEqual({ written: 361, dropped: 0, pending: 0, failures: 0 });
  });

  it("holds a young STARTED back one flush, so a short task's STARTED and outcome are one batch", async () => {
    const { store, writer } = await setup({ flushIntervalMs: 20, startedSettleMs: 60_000 });
    await writer.start();
    const id = taskId();
    const at = Date.now();
    writer.record({ taskId: id, run: 0, attempt: 0, status: "STARTED", at, startedAt: at });
    // Flushes come and go; the STARTED waits for its task's next event.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(store.recordBatches).toEqual([]);
    expect(writer.stats().pending).toBe(1);
    writer.record({
      taskId: id,
      run: 0,
      attempt: 0,
      status: "SUCCESS",
      at: at + 1,
      completedAt: at + 1,
    });
    // A task's STARTED is held only while nothing of its task follows it in the flush.
    await vi.waitFor(() => expect(writer.stats().written).toBe(2), { timeout: 2_000 });
    expect(store.recordBatches).toEqual([2]);
    expect(await store.get(id)).toMatchObject({
      status: "SUCCESS",
      startedAt: new Date(at).toISOString(),
    });

    // flush() (a CLI about to read the task back) writes a young STARTED at once.
    const running = taskId();
    writer.record({ taskId: running, run: 0, attempt: 0, status: "STARTED", at: Date.now() });
    await writer.flush();
    expect(await store.get(running)).toMatchObject({ status: "STARTED" });
  });

  it("writes a STARTED whose task runs on once it is older than the settle time", async () => {
    const { store, writer } = await setup({ flushIntervalMs: 10, startedSettleMs: 50 });
    await writer.start();
    const id = taskId();
    const at = Date.now();
    writer.record({ taskId: id, run: 0, attempt: 0, status: "STARTED", at, startedAt: at });
    writer.record(submitted(taskId(), T0));
    // The submission goes with the first flush; the STARTED one flush after its 50 ms.
    await vi.waitFor(() => expect(store.recordBatches).toEqual([1]), {
      timeout: 2_000,
      interval: 1,
    });
    await vi.waitFor(() => expect(writer.stats().written).toBe(2), { timeout: 2_000, interval: 1 });
    expect(Date.now() - at).toBeGreaterThanOrEqual(50);
    expect(store.recordBatches).toEqual([1, 1]);
    expect(await store.get(id)).toMatchObject({ status: "STARTED" });
  });

  it("keeps up with a producer that records a thousand events per batch, dropping none", async () => {
    // The default settings: a 10,000-item buffer and batches of 500 (the producer's submitBatch
    // of 1,000 tasks once overflowed a writer that took only a batch per flush).
    const { writer } = await setup();
    await writer.start();
    for (let batch = 0; batch < 40; batch += 1) {
      for (let i = 0; i < 1_000; i += 1) writer.record(submitted(taskId(), T0 + i));
      // What a broker publish of 1,000 messages leaves the event loop: about a millisecond.
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await writer.flush();
    expect(writer.stats()).toMatchObject({ written: 40_000, dropped: 0, pending: 0 });
  });

  it("bounds its buffer, drops log lines before events, oldest first, and counts every drop", async () => {
    const { store, writer } = await setup({ maxBufferItems: 10 });
    // Not started yet: everything stays buffered.
    const ids = Array.from({ length: 11 }, () => taskId());
    for (const id of ids.slice(0, 6)) writer.record(submitted(id, T0));
    for (let i = 0; i < 6; i += 1) writer.log(line(ids[0] as string, `line ${i}`));
    expect(writer.stats()).toMatchObject({ dropped: 2, pending: 10 });
    for (const id of ids.slice(6)) writer.record(submitted(id, T0));
    expect(writer.stats()).toMatchObject({ dropped: 7, pending: 10 });
    await writer.start();
    await writer.flush();
    expect(await store.get(ids[0] as string)).toBeUndefined();
    for (const id of ids.slice(1)) expect(await store.get(id)).toBeDefined();
    expect(await store.logs(ids[0] as string)).toEqual([]);
    expect(writer.stats()).toEqual({ written: 10, dropped: 7, pending: 0, failures: 0 });
  });

  it("keeps retrying while the store is down and writes the buffered events once it returns", async () => {
    const { store, writer, lines } = await setup({
      retryBaseMs: 5,
      retryMaxMs: 20,
      flushIntervalMs: 5,
    });
    await writer.start();
    store.down = true;
    const ids = Array.from({ length: 20 }, () => taskId());
    for (const [i, id] of ids.entries())
      for (const event of flakyLifecycle(id, T0 + i)) writer.record(event);
    writer.log(line(ids[0] as string, "while down"));
    writer.heartbeat(heartbeat("w1", T0));
    await vi.waitFor(() => expect(writer.stats().failures).toBeGreaterThanOrEqual(5), {
      timeout: 5_000,
    });
    expect(writer.stats()).toMatchObject({
      written: 0,
      dropped: 0,
      pending: 102,
      lastError: expect.stringContaining("down"),
    });

    store.down = false;
    await vi.waitFor(() => expect(writer.stats().pending).toBe(0), { timeout: 5_000 });
    expect(writer.stats()).toMatchObject({ written: 102, dropped: 0 });
    expect(writer.stats().lastError).toBeUndefined();
    for (const [i, id] of ids.entries())
      expect(await store.get(id)).toMatchObject(flakyOutcome(id, T0 + i));
    expect(await store.logs(ids[0] as string)).toHaveLength(1);
    expect(await store.workers({ seenSince: 0 })).toHaveLength(1);
    // Rate-limited: one warning for the whole outage (not one per failed flush), one recovery line.
    const warnings = lines.filter((l) => l.msg.includes("write failed"));
    expect(warnings).toHaveLength(1);
    expect(lines.filter((l) => l.msg.includes("succeed again"))).toHaveLength(1);
  });

  it("drops only the item the store refuses, not the batch around it", async () => {
    const { store, writer, lines } = await setup();
    const ids = Array.from({ length: 9 }, () => taskId());
    for (const id of ids.slice(0, 4)) writer.record(submitted(id, T0));
    writer.record(submitted(POISON, T0));
    for (const id of ids.slice(4)) writer.record(submitted(id, T0));
    await writer.start();
    await writer.flush();
    for (const id of ids) expect(await store.get(id)).toBeDefined();
    expect(writer.stats()).toMatchObject({ written: 9, dropped: 1, pending: 0 });
    expect(lines.filter((l) => l.msg.includes("refused"))).toHaveLength(1);
  });

  it("never throws into its callers and never waits for the store", async () => {
    const { store, writer } = await setup({ batchSize: 10 });
    await writer.start();
    let release = () => {};
    store.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const started = performance.now();
    for (let i = 0; i < 2_000; i += 1) writer.record(submitted(taskId(), T0));
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(writer.stats()).toMatchObject({ pending: 2_000, written: 0 });
    release();
    store.hold = undefined;
    await writer.flush();
    expect(writer.stats()).toMatchObject({ pending: 0, written: 2_000 });

    // A store that throws synchronously is contained like one that rejects.
    const throwing = new BestEffortWriter(new SynchronouslyThrowingStore(store.inner), {
      stopTimeoutMs: 50,
      retryBaseMs: 5,
    });
    await throwing.start();
    expect(() => throwing.record(submitted(taskId(), T0))).not.toThrow();
    await throwing.flush();
    expect(throwing.stats()).toMatchObject({
      failures: 1,
      lastError: "synchronous failure",
      pending: 1,
    });
    await throwing.stop();
    expect(() => throwing.record(submitted(taskId(), T0))).not.toThrow();
    expect(throwing.stats()).toMatchObject({ dropped: 2, pending: 0 });
  });

  it("stops by flushing everything it holds, once, even if it never started", async () => {
    const { store, writer } = await setup();
    const ids = Array.from({ length: 30 }, () => taskId());
    for (const id of ids) writer.record(submitted(id, T0));
    writer.heartbeat(heartbeat("w1", T0));
    const stopping = writer.stop();
    expect(writer.stop()).toBe(stopping);
    await stopping;
    for (const id of ids) expect(await store.get(id)).toBeDefined();
    expect(writer.stats()).toEqual({ written: 31, dropped: 0, pending: 0, failures: 0 });
    await expect(writer.start()).rejects.toThrow(/cannot be started again/);
  });

  it("gives up within stopTimeoutMs when the store stays down, counting what is lost", async () => {
    const { store, writer, lines } = await setup({ stopTimeoutMs: 150, retryBaseMs: 20 });
    await writer.start();
    store.down = true;
    for (let i = 0; i < 25; i += 1) writer.record(submitted(taskId(), T0));
    const started = Date.now();
    await writer.stop();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(writer.stats()).toMatchObject({ written: 0, dropped: 25, pending: 0 });
    expect(lines.some((l) => l.msg.includes("stopped with items still unwritten"))).toBe(true);
  });

  it("keeps only the latest heartbeat of each worker", async () => {
    const { store, writer } = await setup();
    for (let seen = 1; seen <= 5; seen += 1) writer.heartbeat(heartbeat("w1", T0 + seen));
    writer.heartbeat(heartbeat("w2", T0));
    expect(writer.stats().pending).toBe(2);
    await writer.start();
    await writer.flush();
    const workers = await store.workers({ seenSince: 0 });
    expect(workers.map((w) => [w.workerId, w.seenAt])).toEqual([
      ["w1", T0 + 5],
      ["w2", T0],
    ]);
  });

  it("refuses settings that cannot work, naming the setting", () => {
    const store = new FaultInjectingStore({} as TrackingStore);
    expect(() => new BestEffortWriter(store, { batchSize: 0 })).toThrow(
      /batchSize must be a positive integer/,
    );
    expect(() => new BestEffortWriter(store, { maxBufferItems: 1.5 })).toThrow(/maxBufferItems/);
    expect(() => new BestEffortWriter(store, { startedSettleMs: -1 })).toThrow(/startedSettleMs/);
    expect(() => new BestEffortWriter(store, { startedSettleMs: 0 })).not.toThrow();
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openTracking } from "../backends/open.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { UnavailableError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { BestEffortWriter } from "../tracking/best-effort-writer.js";
import type { TaskEvent, TrackingStore } from "../tracking/tracking-store.js";
import { TaskService } from "./task-service.js";

// "Read your submission": a client that got a 202 reads the task from the same API at once and
// sees PENDING, even while its PENDING event is still in the process's tracking writer (buffered,
// or in a batch the store has not committed). A real SQLite tracking store whose writes wait at
// a gate stands for a store slower than the request.

const dirs: string[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function rig(options: { answerUnwritten: boolean }) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-ryw-"));
  dirs.push(dir);
  const store = await openTracking(`sqlite://${path.join(dir, "tracking.db")}`);
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => (open = resolve));
  let down = false;
  // Writes wait until the test opens the gate; reads fail while the store is "down".
  const slow = Object.create(store) as TrackingStore;
  slow.record = async (events: TaskEvent[]) => {
    await gate;
    return store.record(events);
  };
  slow.get = async (id: string) => {
    if (down) throw new UnavailableError("tracking store down (test)");
    return store.get(id);
  };
  const writer = new BestEffortWriter(slow, { flushIntervalMs: 5, logger: silentLogger() });
  await writer.start();
  const broker = createMemoryBroker();
  const logger = silentLogger();
  const producer = new Producer({ broker, tracking: writer, logger });
  const service = new TaskService({
    producer,
    broker,
    tracking: slow,
    logger,
    ...(options.answerUnwritten ? { unwritten: writer } : {}),
  });
  closers.push(async () => {
    open();
    await writer.stop();
    await store.close();
    await broker.close();
  });
  return {
    service,
    writer,
    store,
    openGate: () => {
      open();
      gate = Promise.resolve();
    },
    closeGate: () => {
      gate = new Promise<void>((resolve) => (open = resolve));
    },
    setDown: (value: boolean) => {
      down = value;
    },
  };
}

describe("read your submission", () => {
  it("answers PENDING right after the submit, while the event is buffered or being written", async () => {
    const r = await rig({ answerUnwritten: true });
    const { id } = await r.service.submit({ function_key: "demo.echo", payload: { n: 7 } });
    // At once: the event is still in the writer's buffer.
    expect(await r.service.get(id)).toMatchObject({
      id,
      status: "PENDING",
      functionKey: "demo.echo",
      payload: { n: 7 },
      run: 0,
      attempt: 0,
    });
    // A flush has taken it and waits at the gate: in flight, still answered.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(r.writer.stats().pending).toBeGreaterThan(0);
    expect((await r.service.get(id)).status).toBe("PENDING");
    // Written: the store answers, and the writer holds nothing of it any more.
    r.openGate();
    await r.writer.flush();
    expect(r.writer.unwrittenRecord(id)).toBeUndefined();
    expect(await r.store.get(id)).toMatchObject({ id, status: "PENDING" });
    expect((await r.service.get(id)).payload).toEqual({ n: 7 });
  });

  it("answers from the writer while the store cannot be read", async () => {
    const r = await rig({ answerUnwritten: true });
    const { id } = await r.service.submit({ function_key: "demo.echo" });
    r.setDown(true);
    expect((await r.service.get(id)).status).toBe("PENDING");
    // Nothing held for another id: the store's error stands.
    const other = await r.service.submit({ function_key: "demo.echo" });
    r.openGate();
    await r.writer.flush();
    await expect(r.service.get(other.id)).rejects.toMatchObject({ code: "unavailable" });
  });

  it("answers PENDING only: a later status still unwritten is left to the store, for reads and requeue alike", async () => {
    const r = await rig({ answerUnwritten: true });
    const { id } = await r.service.submit({ function_key: "demo.echo", payload: { n: 9 } });
    r.writer.record({ taskId: id, run: 0, attempt: 0, status: "CANCELED", at: Date.now() + 1 });
    // A list of the store would not show it CANCELED yet, so neither does a read.
    expect((await r.service.get(id)).status).toBe("PENDING");
    expect(await r.store.get(id)).toBeUndefined();
    await expect(r.service.requeue(id)).rejects.toMatchObject({ code: "conflict" });
    r.openGate();
    await r.writer.flush();
    expect((await r.service.get(id)).status).toBe("CANCELED");
    expect(await r.service.requeue(id)).toMatchObject({ id, run: 1, source: "tracking" });
  });

  it("without the writer, the same read right after the submit is a not_found", async () => {
    const r = await rig({ answerUnwritten: false });
    const { id } = await r.service.submit({ function_key: "demo.echo" });
    await expect(r.service.get(id)).rejects.toMatchObject({ code: "not_found" });
  });
});

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BestEffortWriter } from "../best-effort-writer.js";
import { submitted, T0, taskId } from "../conformance/fixtures.case.js";
import type { TaskEvent, TrackingStore } from "../tracking-store.js";
import { openSqlTrackingStore } from "./sql-tracking-store.js";
import { SqliteWriteThread } from "./sqlite-write-thread.js";

// The SQLite write thread against real database files: what the main thread reads after a write
// resolves, how refusals and dead threads come back, and what close() writes. The faulty fixture
// is the real thread plus three poisoned task ids (crash, exit, hang).

const root = fs.mkdtempSync(path.join(os.tmpdir(), "gotaskq-write-thread-"));
let files = 0;
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const FAULTY = new URL("./faulty-write-worker.fixture.ts", import.meta.url);

async function migratedFile(): Promise<{ file: string; reader: TrackingStore }> {
  files += 1;
  const file = path.join(root, `case-${files}.db`);
  const reader = await openSqlTrackingStore(`sqlite://${file}`);
  await reader.migrate();
  return { file, reader };
}

function event(id: string, extra: Partial<TaskEvent> = {}): TaskEvent {
  return { ...submitted(id, T0), ...extra };
}

describe("SQLite write thread", () => {
  it("commits a batch before its promise resolves, visible to the main thread's reads", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file);
    try {
      const ids = Array.from({ length: 3_000 }, () => taskId());
      await thread.recordEvents(ids.map((id) => event(id)));
      await thread.appendLogLines([
        { taskId: ids[0] as string, attempt: 0, at: T0, level: "info", message: "hello" },
      ]);
      expect(await reader.get(ids[2_999] as string)).toMatchObject({ status: "PENDING" });
      expect(await reader.logs(ids[0] as string)).toMatchObject([{ message: "hello" }]);
    } finally {
      await thread.close();
      await reader.close();
    }
  });

  it("reports a batch the database refuses with the driver's code, and keeps working", async () => {
    files += 1;
    const file = path.join(root, `unmigrated-${files}.db`);
    const store = await openSqlTrackingStore(`sqlite://${file}`);
    try {
      // No tables yet: SQLite refuses the statement (the store does not retry refused data).
      await expect(store.record([event(taskId())])).rejects.toMatchObject({
        code: "internal",
        message: expect.stringContaining("no such table"),
      });
      await store.migrate();
      const id = taskId();
      await store.record([event(id)]);
      expect(await store.get(id)).toMatchObject({ status: "PENDING" });
    } finally {
      await store.close();
    }
  });

  it("stores a value structured clone cannot copy as JSON would", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file);
    try {
      const id = taskId();
      const result = { kept: 1, dropped: () => 1 };
      await thread.recordEvents([
        event(id),
        { taskId: id, run: 0, attempt: 0, status: "SUCCESS", at: T0 + 1, result },
      ]);
      expect(await reader.get(id)).toMatchObject({ status: "SUCCESS", result: { kept: 1 } });
    } finally {
      await thread.close();
      await reader.close();
    }
  });

  it("fails the batches of a crashed or exited thread as unavailable, then starts a new one", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file, { script: FAULTY });
    try {
      await expect(thread.recordEvents([event("crash")])).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("injected: the write thread crashed"),
      });
      await expect(thread.recordEvents([event("exit")])).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("exited (code 7)"),
      });
      const id = taskId();
      await thread.recordEvents([event(id)]);
      expect(await reader.get(id)).toMatchObject({ status: "PENDING" });
    } finally {
      await thread.close();
      await reader.close();
    }
  });

  it("fails a batch that gets no reply in time and replaces the stuck thread", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file, { script: FAULTY, replyTimeoutMs: 3_000 });
    try {
      const [stuck, queued] = await Promise.allSettled([
        thread.recordEvents([event("hang")]),
        thread.recordEvents([event(taskId())]),
      ]);
      expect(stuck).toMatchObject({
        status: "rejected",
        reason: { code: "unavailable", message: expect.stringContaining("gave no reply") },
      });
      // The batch queued behind it fails with the thread, instead of waiting forever.
      expect(queued).toMatchObject({ status: "rejected", reason: { code: "unavailable" } });
      const id = taskId();
      await thread.recordEvents([event(id)]);
      expect(await reader.get(id)).toMatchObject({ status: "PENDING" });
    } finally {
      await thread.close();
      await reader.close();
    }
  });

  it("lets the best-effort writer count a crashed thread as a failure and write the batch again", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file, { script: FAULTY });
    const store: TrackingStore = {
      ...reader,
      kind: "sqlite",
      migrate: () => reader.migrate(),
      record: (events) => thread.recordEvents(events),
      appendLogs: (lines) => thread.appendLogLines(lines),
      heartbeat: (workers) => reader.heartbeat(workers),
      get: (id) => reader.get(id),
      list: (query) => reader.list(query),
      logs: (id, options) => reader.logs(id, options),
      workers: (options) => reader.workers(options),
      purge: (options) => reader.purge(options),
      close: () => reader.close(),
    };
    const writer = new BestEffortWriter(store, { flushIntervalMs: 5, retryBaseMs: 10 });
    await writer.start();
    try {
      writer.record(event("crash-once"));
      writer.record(event("other"));
      const deadline = Date.now() + 20_000;
      while (writer.stats().written < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(writer.stats()).toMatchObject({ written: 2, dropped: 0, pending: 0 });
      expect(writer.stats().failures).toBeGreaterThanOrEqual(1);
      expect(await reader.get("crash-once")).toMatchObject({ status: "PENDING" });
    } finally {
      await writer.stop();
      await thread.close();
      await reader.close();
    }
  });

  it("writes what it was sent before close() ends the thread", async () => {
    const { file, reader } = await migratedFile();
    const thread = new SqliteWriteThread(file);
    const ids = Array.from({ length: 500 }, () => taskId());
    const writing = thread.recordEvents(ids.map((id) => event(id)));
    await thread.close();
    await writing;
    try {
      expect(await reader.get(ids[499] as string)).toMatchObject({ status: "PENDING" });
      await expect(thread.recordEvents([event(taskId())])).rejects.toMatchObject({
        code: "unavailable",
        message: expect.stringContaining("closed"),
      });
    } finally {
      await reader.close();
    }
  });
});

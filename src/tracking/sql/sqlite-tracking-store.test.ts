import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import {
  flakyLifecycle,
  flakyOutcome,
  submitted,
  T0,
  taskId,
} from "../conformance/fixtures.case.js";
import { describeTrackingConformance } from "../conformance/tracking.case.js";
import { openSqlTrackingStore } from "./sql-tracking-store.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "gotaskq-tracking-sqlite-"));
let files = 0;

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describeTrackingConformance("sqlite", async () => {
  files += 1;
  const file = path.join(root, `case-${files}`, "tracking.db");
  return {
    open: () => openSqlTrackingStore(`sqlite://${file}`),
    async cleanup() {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
});

describe("SQLite tracking store", () => {
  it("opens sqlite::memory:, relative and absolute paths, and creates missing directories", async () => {
    const memory = await openSqlTrackingStore("sqlite::memory:");
    expect(memory.kind).toBe("sqlite");
    await memory.migrate();
    expect(await memory.list({})).toEqual({ tasks: [] });
    await memory.close();
    await memory.close();

    const relative = path.relative(process.cwd(), path.join(root, "nested", "dir", "rel.db"));
    const store = await openSqlTrackingStore(`sqlite://${relative}`);
    await store.migrate();
    await store.close();
    expect(fs.existsSync(path.join(root, "nested", "dir", "rel.db"))).toBe(true);
  });

  it("writes on the event loop's thread with ?write_thread=off, and refuses other values", async () => {
    const file = path.join(root, "inline", "tracking.db");
    const store = await openSqlTrackingStore(`sqlite://${file}?write_thread=off`);
    try {
      await store.migrate();
      const id = taskId();
      await store.record([submitted(id, T0)]);
      expect(await store.get(id)).toMatchObject({ status: "PENDING" });
    } finally {
      await store.close();
    }
    await expect(openSqlTrackingStore(`sqlite://${file}?write_thread=maybe`)).rejects.toMatchObject(
      {
        code: "invalid_argument",
        message: expect.stringContaining("write_thread must be on or off"),
      },
    );
  });

  it("refuses URLs it cannot open, saying which forms work", async () => {
    await expect(openSqlTrackingStore("mysql://x")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("sqlite::memory:"),
    });
    await expect(openSqlTrackingStore("sqlite://")).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(
      openSqlTrackingStore("postgres://127.0.0.1/test", { schema: "Bad-Name" }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("reports a closed store as unavailable", async () => {
    const store = await openSqlTrackingStore("sqlite::memory:");
    await store.migrate();
    await store.close();
    await expect(store.get("x")).rejects.toMatchObject({ code: "unavailable" });
  });

  it("waits for another process's write lock without blocking the event loop", async () => {
    const file = path.join(root, "locked", "tracking.db");
    const store = await openSqlTrackingStore(`sqlite://${file}`);
    await store.migrate();
    // A connection of its own plays the other process: it holds the write lock meanwhile.
    const other = new Database(file);
    try {
      other.exec("begin immediate");
      const id = taskId();
      const recording = store.record([submitted(id, T0)]);
      const heartbeat = store.heartbeat([
        {
          workerId: "w1",
          host: "h",
          pid: 1,
          queues: ["default"],
          concurrency: 1,
          running: 0,
          functions: [],
          version: "0",
          startedAt: T0,
          seenAt: T0,
        },
      ]);
      // Timers keep firing on time while both writes wait (a synchronous busy wait froze them).
      let worstLateMs = 0;
      for (let i = 0; i < 10; i += 1) {
        const before = performance.now();
        await sleep(10);
        worstLateMs = Math.max(worstLateMs, performance.now() - before - 10);
      }
      expect(worstLateMs).toBeLessThan(200);
      expect(await store.get(id)).toBeUndefined();
      other.exec("rollback");
      await Promise.all([recording, heartbeat]);
      expect(await store.get(id)).toMatchObject({ id, status: "PENDING" });
      expect(await store.workers({ seenSince: 0 })).toHaveLength(1);
    } finally {
      other.close();
      await store.close();
    }
  });

  it("writes a batch larger than one transaction, and several stores of one process share the file", async () => {
    const file = path.join(root, "shared", "tracking.db");
    const [a, b] = [
      await openSqlTrackingStore(`sqlite://${file}`),
      await openSqlTrackingStore(`sqlite://${file}`),
    ];
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const ids = Array.from({ length: 2_500 }, () => taskId());
      const lifecycles = ids.map((id, i) => flakyLifecycle(id, T0 + i));
      // Both stores write every task's events at once, each half of each lifecycle.
      await Promise.all([
        a.record(lifecycles.flatMap((l) => l.slice(0, 3))),
        b.record(lifecycles.flatMap((l) => l.slice(3))),
        a.appendLogs(
          ids.map((id) => ({ taskId: id, attempt: 0, at: T0, level: "info", message: id })),
        ),
      ]);
      for (const i of [0, 999, 1_000, 2_499]) {
        const id = ids[i] as string;
        expect(await b.get(id)).toMatchObject(flakyOutcome(id, T0 + i));
        expect(await b.logs(id)).toMatchObject([{ message: id }]);
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("converges when separate processes migrate and write the same file at once", async () => {
    const file = path.join(root, "processes", "tracking.db");
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), "sql-tracking-store.ts");
    const ids = Array.from(
      { length: 20 },
      (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
    );
    // Each process writes every task's lifecycle in its own order, one event per transaction.
    const script = `
      const { openSqlTrackingStore } = await import(${JSON.stringify(module)});
      const [file, seed, events] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];
      const store = await openSqlTrackingStore("sqlite://" + file);
      await store.migrate();
      const order = events.map((e, i) => [((i + 1) * seed * 7919) % 1009, e]).sort((a, b) => a[0] - b[0]);
      for (const [, event] of order) await store.record([event]);
      await store.close();
    `;
    const events = ids.flatMap((id, i) => flakyLifecycle(id, T0 + i));
    const run = promisify(execFile);
    await Promise.all(
      [1, 2, 3].map((seed) =>
        run(
          process.execPath,
          [
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            script,
            file,
            String(seed),
            JSON.stringify(events),
          ],
          {
            timeout: 25_000,
          },
        ),
      ),
    );
    const store = await openSqlTrackingStore(`sqlite://${file}`);
    try {
      for (const [i, id] of ids.entries())
        expect(await store.get(id)).toMatchObject(flakyOutcome(id, T0 + i));
    } finally {
      await store.close();
    }
  });
});

import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite/sqlite-broker.js";
import { silentLogger } from "../../src/logging/logger.js";
import { Producer } from "../../src/producer/producer.js";
import { openSqlTrackingStore } from "../../src/tracking/sql/sql-tracking-store.js";
import type { TaskRecord } from "../../src/tracking/tracking-store.js";
import { eventually, Sandbox } from "../support/cli.js";

// At-least-once across a crash: a worker killed with SIGKILL while 50 tasks run loses nothing;
// a new worker picks every one of them up once their leases expire.

describe("kill -9 of a worker with tasks in flight", () => {
  const box = new Sandbox({ GOTASKQ_LEASE_MS: "1500", GOTASKQ_CONCURRENCY: "50" });
  afterAll(() => box.cleanup());

  it("loses no accepted task", async () => {
    const broker = openSqliteBroker({ path: path.join(box.dir, "broker.db") });
    const tracking = await openSqlTrackingStore(`sqlite://${path.join(box.dir, "tracking.db")}`);
    await tracking.migrate();
    try {
      const producer = new Producer({ broker, logger: silentLogger() });
      const results = await producer.submitBatch(
        Array.from({ length: 50 }, (_, i) => ({
          function_key: "demo.sleep",
          payload: { ms: 3_000 + i },
        })),
      );
      const ids = results.map((r) => (r.ok ? r.task.id : ""));
      expect(ids.every(Boolean)).toBe(true);

      const first = await box.start(["dev"], { readyText: "Stop with Ctrl+C" });
      const listStatus = async (): Promise<TaskRecord[]> =>
        (await tracking.list({ limit: 100 })).tasks.filter((t) => ids.includes(t.id));
      await eventually(
        async () =>
          (await listStatus()).filter((t) => t.status === "STARTED").length === 50
            ? true
            : undefined,
        15_000,
        "50 tasks STARTED",
      );
      first.kill("SIGKILL");
      await new Promise((r) => first.once("exit", r));
      const crashedStats = await broker.stats("default");
      expect(crashedStats.inFlight + crashedStats.ready).toBe(50);

      await box.start(["dev"], { readyText: "Stop with Ctrl+C" });
      const final = await eventually(
        async () => {
          const tasks = await listStatus();
          return tasks.length === 50 && tasks.every((t) => t.status === "SUCCESS")
            ? tasks
            : undefined;
        },
        30_000,
        "every task to reach SUCCESS",
      );
      const counts = {
        submitted: 50,
        accepted: ids.length,
        executed: final.length,
        lost: ids.length - final.length,
        redelivered: final.filter((t) => (t.deliveryCount ?? 1) > 1).length,
      };
      console.log("kill -9 counts", counts);
      expect(counts.lost).toBe(0);
      expect(counts.redelivered).toBe(50);
      expect(await broker.stats("default")).toMatchObject({
        ready: 0,
        inFlight: 0,
        delayed: 0,
        deadLettered: 0,
      });
    } finally {
      await broker.close();
      await tracking.close();
    }
  });
});

import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite/sqlite-broker.js";
import { openSqlTrackingStore } from "../../src/tracking/sql/sql-tracking-store.js";
import { Sandbox } from "../support/cli.js";
import { devSleepScenario, killNine, trackedCounts } from "../support/kill-nine.js";

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
      const { ids, finished } = await killNine(
        devSleepScenario(
          {
            box,
            broker,
            tracking,
            count: 50,
            afterKill: async () => {
              const crashedStats = await broker.stats("default");
              expect(crashedStats.inFlight + crashedStats.ready).toBe(50);
            },
          },
          { started: 15_000, finished: 30_000 },
        ),
      );
      const counts = trackedCounts(ids, finished);
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

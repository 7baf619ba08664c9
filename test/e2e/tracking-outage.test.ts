import { rmSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../src/broker/sqlite/sqlite-broker.js";
import { silentLogger } from "../../src/logging/logger.js";
import { Producer } from "../../src/producer/producer.js";
import { eventually, Sandbox } from "../support/cli.js";

// The tracking database is for observability only: locked or deleted under a running worker, it
// must not stop or slow execution, nothing may crash, and the drop counter says what tracking lost.

describe("tracking database outage while tasks run", () => {
  const box = new Sandbox({ GOTASKQ_TRACKING_BUFFER_ITEMS: "100", GOTASKQ_LOG_LEVEL: "info" });
  afterAll(() => box.cleanup());

  async function submitAndDrain(
    producer: Producer,
    broker: ReturnType<typeof openSqliteBroker>,
    count: number,
  ) {
    const results = await producer.submitBatch(
      Array.from({ length: count }, (_, i) => ({ function_key: "demo.echo", payload: { i } })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    await eventually(
      async () => {
        const s = await broker.stats("default");
        return s.ready + s.inFlight + s.delayed === 0 ? s : undefined;
      },
      30_000,
      `all ${count} tasks to be executed and acked`,
    );
  }

  it("keeps executing while the tracking database is locked, then deleted, and reports drops", async () => {
    const dev = await box.start(["dev"], { readyText: "Stop with Ctrl+C" });
    const broker = openSqliteBroker({ path: path.join(box.dir, "broker.db") });
    const producer = new Producer({ broker, logger: silentLogger() });
    const trackingFile = path.join(box.dir, "tracking.db");
    try {
      // 1. Locked: another process holds the write lock for the whole run.
      const locker = new Database(trackingFile);
      locker.exec("BEGIN EXCLUSIVE");
      await submitAndDrain(producer, broker, 400);
      locker.exec("ROLLBACK");
      locker.close();

      // 2. Deleted: the files vanish under the open store.
      for (const suffix of ["", "-wal", "-shm"])
        rmSync(`${trackingFile}${suffix}`, { force: true });
      await submitAndDrain(producer, broker, 200);

      expect(dev.exitCode).toBeNull(); // still running: nothing crashed
      expect((await broker.stats("default")).deadLettered).toBe(0);
    } finally {
      await broker.close();
    }

    dev.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => dev.once("exit", resolve));
    expect(code).toBe(0);
    const log = dev.output();
    const succeeded = log.split("\n").filter((l) => l.includes('"event":"succeeded"')).length;
    expect(succeeded).toBe(600);
    const stats = log.split("\n").find((l) => l.includes('"event":"tracking_writer_stats"'));
    expect(stats).toBeDefined();
    const { dropped } = JSON.parse(stats as string) as { dropped: number };
    console.log("tracking outage counts", {
      submitted: 600,
      executed: succeeded,
      trackingDropped: dropped,
    });
    expect(dropped).toBeGreaterThan(0);
    expect(log).toContain('"event":"tracking_items_dropped"');
  });
});

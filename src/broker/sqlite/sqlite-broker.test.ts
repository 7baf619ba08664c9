import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { Broker, Delivery } from "../broker.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { message, pollUntil } from "../conformance/inbox.case.js";
import { openDatabase } from "./schema.js";
import { openSqliteBroker } from "./sqlite-broker.js";

// The SQLite broker on the shared conformance suite — each harness is a fresh file in a fresh
// temporary directory and every client a separate connection to it, as separate processes would
// be — plus what only a file-based broker has to prove: WAL mode, a claim that walks the index,
// and several real processes sharing one file, including one killed with SIGKILL.

function tempFile(): { dir: string; file: string } {
  const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-sqlite-"));
  return { dir, file: path.join(dir, "broker.db") };
}

describeBrokerConformance("sqlite", async () => {
  const { dir, file } = tempFile();
  return {
    open: async () => openSqliteBroker({ path: file, pollIntervalMs: 20 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const FIXTURE = fileURLToPath(new URL("./consumer-process.fixture.ts", import.meta.url));

/** A consumer in a child process (see consumer-process.fixture.ts), with its events parsed. */
class ConsumerProcess {
  readonly acked: { id: string; deliveryCount: number }[] = [];
  readonly holding: { id: string; deliveryCount: number }[] = [];
  readonly failures: string[] = [];
  ready = false;
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(
    file: string,
    queue: string,
    mode: "ack" | "hold-odd",
    prefetch: number,
    leaseMs: number,
  ) {
    this.child = spawn(
      process.execPath,
      ["--import", "tsx", FIXTURE, file, queue, mode, String(prefetch), String(leaseMs)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    this.exited = new Promise((resolve) => this.child.once("exit", (code) => resolve(code)));
    let partial = "";
    this.child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.onLine(line);
    });
  }

  private onLine(line: string): void {
    const [event, id = "", count = "0"] = line.split(" ");
    if (event === "ready") this.ready = true;
    else if (event === "acked") this.acked.push({ id, deliveryCount: Number(count) });
    else if (event === "holding") this.holding.push({ id, deliveryCount: Number(count) });
    else this.failures.push(line);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }
}

describe("sqlite broker specifics", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function setup(): {
    file: string;
    open: () => Broker;
    spawnConsumer: (
      queue: string,
      mode: "ack" | "hold-odd",
      prefetch: number,
      leaseMs: number,
    ) => ConsumerProcess;
  } {
    const { dir, file } = tempFile();
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    return {
      file,
      open: () => {
        const broker = openSqliteBroker({ path: file, pollIntervalMs: 20 });
        cleanups.push(() => broker.close());
        return broker;
      },
      spawnConsumer: (queue, mode, prefetch, leaseMs) => {
        const consumer = new ConsumerProcess(file, queue, mode, prefetch, leaseMs);
        cleanups.push(async () => {
          consumer.kill("SIGKILL");
          await consumer.exited;
        });
        return consumer;
      },
    };
  }

  it("runs the file in WAL mode, synchronous NORMAL by default and FULL on request", async () => {
    const { file, open } = setup();
    const broker = open();
    await broker.ping();
    const raw = new Database(file, { readonly: true });
    cleanups.push(() => {
      raw.close();
    });
    // journal_mode is a property of the file: every later connection finds it in WAL mode.
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");

    // synchronous is per connection, so it is read on connections opened the broker's way.
    for (const [mode, level] of [
      ["normal", 1],
      ["full", 2],
    ] as const) {
      const connection = openDatabase(file, mode);
      expect(connection.pragma("synchronous", { simple: true })).toBe(level);
      expect(connection.pragma("busy_timeout", { simple: true })).toBe(5_000);
      connection.close();
    }
  });

  it("reports a file it cannot open as unavailable, naming the file", () => {
    expect(() => openSqliteBroker({ path: "/dev/null/broker.db" })).toThrow(
      expect.objectContaining({
        code: "unavailable",
        message: expect.stringContaining("/dev/null/broker.db"),
      }),
    );
  });

  it("claims through the ready index, never sorting or scanning the backlog", () => {
    const { file, open } = setup();
    open();
    const raw = new Database(file, { readonly: true });
    cleanups.push(() => {
      raw.close();
    });
    const plan = raw
      .prepare(
        `EXPLAIN QUERY PLAN SELECT seq FROM messages WHERE queue = 'q' AND state = 0 ORDER BY priority DESC, seq LIMIT 10`,
      )
      .all()
      .map((row) => (row as { detail: string }).detail)
      .join("; ");
    expect(plan).toContain("messages_ready");
    expect(plan).not.toContain("TEMP B-TREE");
  });

  it("holds only prefetch rows of a large backlog in memory", async () => {
    const { open } = setup();
    const broker = open();
    for (let i = 0; i < 20_000; i += 5_000) {
      await broker.publish(
        "backlog",
        Array.from({ length: 5_000 }, (_, k) => message(`m${i + k}`)),
      );
    }
    const received: Delivery[] = [];
    await broker.consume(["backlog"], { prefetch: 10, leaseMs: 30_000 }, (d) => received.push(d));
    await pollUntil(() => received.length === 10, { timeoutMs: 5_000, what: "10 deliveries" });
    expect(await broker.stats("backlog")).toMatchObject({ ready: 19_990, inFlight: 10 });
    expect(received).toHaveLength(10);
  });

  it("wakes an idle consumer when another connection commits, without waiting for its poll", async () => {
    const { file } = setup();
    // A poll interval no test waits for: only the file notification can deliver in time.
    const consumer = openSqliteBroker({ path: file, pollIntervalMs: 60_000 });
    cleanups.push(() => consumer.close());
    const got: Delivery[] = [];
    await consumer.consume(["woken"], { prefetch: 10, leaseMs: 30_000 }, (d) => got.push(d));
    const producer = openSqliteBroker({ path: file, pollIntervalMs: 60_000 });
    cleanups.push(() => producer.close());
    for (let round = 1; round <= 3; round++) {
      await producer.publish("woken", [message(`peer-${round}`)]);
      await pollUntil(() => got.length === round, {
        timeoutMs: 10_000,
        what: `delivery ${round} of another connection's publish`,
      });
      await got[round - 1]?.ack();
    }
    expect(got.map((d) => d.id)).toEqual(["peer-1", "peer-2", "peer-3"]);
  });

  it("keeps a 7-day delay on its clock, then delivers it", async () => {
    const { file } = setup();
    let now = Date.now();
    const broker = openSqliteBroker({ path: file, pollIntervalMs: 10, now: () => now });
    cleanups.push(() => broker.close());
    const week = 7 * 86_400_000;
    await broker.publish("later", [message("weekly", { delayMs: week })]);
    const got: Delivery[] = [];
    await broker.consume(["later"], { prefetch: 1, leaseMs: 1_000 }, (d) => got.push(d));
    now += week - 1_000;
    await expect(
      pollUntil(() => got.length > 0, { timeoutMs: 200, what: "an early delivery" }),
    ).rejects.toThrow(/timed out/);
    expect(await broker.stats("later")).toMatchObject({ delayed: 1, ready: 0 });
    now += 1_000;
    await pollUntil(() => got.length === 1, {
      timeoutMs: 5_000,
      what: "the delivery after 7 days",
    });
    expect(got[0]?.id).toBe("weekly");
  });

  it("lets three processes share one file: 2,000 messages, each delivered exactly once", async () => {
    const { open, spawnConsumer } = setup();
    const publisher = open();
    const consumers = [1, 2, 3].map(() => spawnConsumer("shared", "ack", 20, 10_000));
    await pollUntil(() => consumers.every((c) => c.ready), {
      timeoutMs: 20_000,
      what: "3 ready consumers",
    });
    for (let i = 0; i < 2_000; i += 500) {
      await publisher.publish(
        "shared",
        Array.from({ length: 500 }, (_, k) => message(`s${i + k}`)),
      );
    }
    const acked = () => consumers.flatMap((c) => c.acked);
    await pollUntil(() => acked().length >= 2_000, { timeoutMs: 20_000, what: "2,000 acks" });
    for (const c of consumers) c.kill("SIGTERM");
    expect(await Promise.all(consumers.map((c) => c.exited))).toEqual([0, 0, 0]);

    const all = acked();
    expect(all).toHaveLength(2_000);
    expect(new Set(all.map((a) => a.id)).size).toBe(2_000);
    expect(all.every((a) => a.deliveryCount === 1)).toBe(true);
    expect(consumers.flatMap((c) => c.failures)).toEqual([]);
    expect(await publisher.stats("shared")).toMatchObject({ ready: 0, inFlight: 0, delayed: 0 });
  });

  it("redelivers a SIGKILLed process's unsettled messages to another process after the lease", async () => {
    const { open, spawnConsumer } = setup();
    const publisher = open();
    const leaseMs = 1_000;
    const doomed = spawnConsumer("crash", "hold-odd", 50, leaseMs);
    await pollUntil(() => doomed.ready, { timeoutMs: 20_000, what: "the first consumer" });
    await publisher.publish(
      "crash",
      Array.from({ length: 40 }, (_, i) => message(`k${i}`)),
    );
    await pollUntil(() => doomed.acked.length === 20 && doomed.holding.length === 20, {
      timeoutMs: 10_000,
      what: "20 acked and 20 held",
    });
    doomed.kill("SIGKILL");
    await doomed.exited;
    const killedAt = Date.now();

    const heir = spawnConsumer("crash", "ack", 50, leaseMs);
    await pollUntil(() => heir.acked.length >= 20, { timeoutMs: 15_000, what: "20 redeliveries" });
    expect(heir.acked.map((a) => a.id).sort()).toEqual(doomed.holding.map((h) => h.id).sort());
    expect(heir.acked.every((a) => a.deliveryCount === 2)).toBe(true);
    expect(Date.now() - killedAt).toBeLessThan(15_000);
    await pollUntil(
      async () => {
        const stats = await publisher.stats("crash");
        return stats.ready + stats.inFlight === 0;
      },
      { timeoutMs: 5_000, what: "an empty queue" },
    );
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { Redis } from "ioredis";
import { openBroker } from "../src/backends/open.js";
import type { Broker } from "../src/broker/broker.js";
import { openSqliteBroker } from "../src/broker/sqlite/sqlite-broker.js";
import { newTaskId } from "../src/core/ids.js";
import { silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { TaskRegistry } from "../src/tasks/registry.js";
import { BestEffortWriter } from "../src/tracking/best-effort-writer.js";
import { openRedisTrackingStore } from "../src/tracking/redis/open-redis-tracking-store.js";
import { openSqlTrackingStore } from "../src/tracking/sql/sql-tracking-store.js";
import { noTracking, type TrackingSink } from "../src/tracking/tracking-sink.js";
import type { TaskEvent, TrackingStore } from "../src/tracking/tracking-store.js";
import { Worker } from "../src/worker/worker.js";
import { startPrivateRedis } from "../test/support/redis-server.js";

// The Redis tracking store on its own (`npm run bench:tracking`): a Redis server of its own
// (so its CPU and memory are the store's alone), 100k tasks (BENCH_TASKS).
//
// 1. The store: the events a producer and a worker record for every task (PENDING; STARTED, a
//    log line, SUCCESS), through the BestEffortWriter as they would: tasks/s, client CPU and
//    Redis CPU per task, Redis memory per task, and the cost of list queries over that data.
// 2. What tracking costs a worker: a backlog drained from the embedded SQLite broker
//    (concurrency 100) with tracking off, on Redis, and on SQLite, each on a fresh broker, in
//    this one process, one after the other.
// 3. The floor: what the record model's own Redis commands cost per task when sent as plainly
//    as possible (one script per batch with the values written in, no merge logic), beside the Redis Streams broker's own
//    Redis work per task. With broker and store on one Redis, that process can do at most
//    1 / (broker + tracking) tasks per second: this bounds what tracking can cost whatever the
//    store's code does.

const TASKS = Number(process.env.BENCH_TASKS ?? 100_000);
const FUNCTION_KEY = "bench.noop";
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function redisCpuSeconds(admin: Redis): Promise<number> {
  const info = await admin.info("cpu");
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

async function redisMemory(admin: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info("memory"))?.[1] ?? 0);
}

interface Measured {
  ms: number;
  clientCpuUs: number;
  redisCpuUs: number;
}

async function measure(admin: Redis | undefined, work: () => Promise<void>): Promise<Measured> {
  const redis0 = admin ? await redisCpuSeconds(admin) : 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await work();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const redis = admin ? (await redisCpuSeconds(admin)) - redis0 : 0;
  return { ms, clientCpuUs: cpu.user + cpu.system, redisCpuUs: redis * 1e6 };
}

/** Records what producer and worker record per task, through a writer as they would. */
async function storePhase(store: TrackingStore, admin: Redis): Promise<string[]> {
  const writer = new BestEffortWriter(store, { logger: silentLogger() });
  await writer.start();
  const ids = Array.from({ length: TASKS }, () => newTaskId());
  const now = Date.now();
  const submitted = (id: string, i: number): TaskEvent => ({
    taskId: id,
    run: 0,
    attempt: 0,
    status: "PENDING",
    at: now + i,
    functionKey: FUNCTION_KEY,
    queue: "bench",
    priority: 5,
    payload: { n: i },
    maxRetries: 3,
    timeoutMs: 30_000,
    metadata: {},
    createdAt: now + i,
  });
  const worker = { functionKey: FUNCTION_KEY, queue: "bench", payload: { n: 0 } };
  const memory0 = await redisMemory(admin);
  const rows: string[] = [];
  const report = (what: string, m: Measured) =>
    rows.push(
      `| ${what} | ${fmt((TASKS / m.ms) * 1000)}/s | ${fmt(m.clientCpuUs / TASKS, 1)} µs | ${fmt(m.redisCpuUs / TASKS, 1)} µs |`,
    );
  // The producer: batches of 1,000 submissions, each recording its PENDING events at once.
  report(
    "producer: PENDING",
    await measure(admin, async () => {
      for (let i = 0; i < TASKS; i += 1) {
        writer.record(submitted(ids[i] as string, i));
        if (i % 1_000 === 999) {
          await new Promise((r) => setImmediate(r));
          while (writer.stats().pending > 5_000) await new Promise((r) => setTimeout(r, 1));
        }
      }
      await writer.flush();
    }),
  );
  // The worker: STARTED, a handler's log line, SUCCESS, as tasks finish.
  report(
    "worker: STARTED, log line, SUCCESS",
    await measure(admin, async () => {
      for (let i = 0; i < TASKS; i += 1) {
        const id = ids[i] as string;
        const at = Date.now();
        writer.record({
          ...worker,
          taskId: id,
          run: 0,
          attempt: 0,
          status: "STARTED",
          at,
          startedAt: at,
          workerId: "w-1",
          deliveryCount: 1,
        });
        writer.log({ taskId: id, attempt: 0, at, level: "info", message: `task ${i} ran` });
        writer.record({
          ...worker,
          taskId: id,
          run: 0,
          attempt: 0,
          status: "SUCCESS",
          at: at + 1,
          completedAt: at + 1,
          durationMs: 1,
          result: { ok: true },
          workerId: "w-1",
        });
        // As fast as the store keeps up: never more than one full flush waiting.
        if (i % 100 === 99) {
          await new Promise((r) => setImmediate(r));
          while (writer.stats().pending > 5_000) await new Promise((r) => setTimeout(r, 1));
        }
      }
      await writer.flush();
    }),
  );
  await writer.stop();
  const stats = writer.stats();
  const memory = (await redisMemory(admin)) - memory0;
  rows.push("");
  rows.push(
    `Writer: ${fmt(stats.written)} items written, ${fmt(stats.dropped)} dropped, ${stats.failures} failed calls. Redis memory: ${fmt(memory / TASKS)} bytes per task (record, 4 index entries, age entry, one log line).`,
  );
  rows.push("");
  rows.push("| query over the 100k tasks | calls | time | tasks |");
  rows.push("| --- | --- | --- | --- |");
  const query = async (what: string, q: Parameters<TrackingStore["list"]>[0], all = false) => {
    let calls = 0;
    let tasks = 0;
    let cursor: string | undefined;
    const t0 = performance.now();
    do {
      const page = await store.list({ ...q, ...(cursor ? { cursor } : {}) });
      calls += 1;
      tasks += page.tasks.length;
      cursor = all ? page.nextCursor : undefined;
    } while (cursor);
    rows.push(`| ${what} | ${calls} | ${fmt(performance.now() - t0, 1)} ms | ${tasks} |`);
  };
  await query("first page, no filter (limit 50)", {});
  await query("first page, status SUCCESS (limit 50)", { status: ["SUCCESS"] });
  await query("first page, status PENDING or FAILURE (none match)", {
    status: ["PENDING", "FAILURE"],
  });
  await query("first page, function key + queue (limit 50)", {
    functionKey: FUNCTION_KEY,
    queue: "bench",
  });
  await query("text search matching one task (first call)", { text: ids[7]?.slice(-12) ?? "" });
  await query(
    "text search matching one task, every page",
    { text: ids[7]?.slice(-12) ?? "" },
    true,
  );
  await query("text search matching every task (limit 50)", { text: "bench" });
  return rows;
}

/** Submits TASKS no-op tasks to the broker in batches of 1,000, as the queue benchmark does. */
async function enqueue(broker: Broker): Promise<void> {
  const producer = new Producer({ broker, logger: silentLogger() });
  for (let i = 0; i < TASKS; i += 1_000) {
    const batch = Array.from({ length: Math.min(1_000, TASKS - i) }, (_, k) => ({
      function_key: FUNCTION_KEY,
      queue: "bench",
      payload: { n: i + k },
    }));
    for (const r of await producer.submitBatch(batch)) if (!r.ok) throw r.error;
  }
}

/** Drains TASKS no-op tasks from the broker (concurrency 100) into the sink. */
async function drainBroker(broker: Broker, sink: TrackingSink): Promise<void> {
  let handled = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const registry = new TaskRegistry().register(FUNCTION_KEY, async () => {
    handled += 1;
    if (handled === TASKS) done();
  });
  const worker = new Worker({
    broker,
    registry,
    tracking: sink,
    logger: silentLogger(),
    queues: ["bench"],
    concurrency: 100,
  });
  await worker.start();
  await all;
  await worker.onIdle();
  await worker.stop();
}

/** Drains a backlog of TASKS from a fresh SQLite broker; returns tasks/s and CPU per task. */
async function drain(dir: string, sink: TrackingSink, admin: Redis | undefined): Promise<Measured> {
  const broker = openSqliteBroker({ path: path.join(dir, `broker-${newTaskId()}.db`) });
  await enqueue(broker);
  const m = await measure(admin, () => drainBroker(broker, sink));
  await broker.close();
  return m;
}

/**
 * Redis CPU per task of the plainest form of the record model's writes: the commands it needs
 * per task, in one script per 1,000 tasks as the store sends them, but with the values written
 * into the script (only ids and times passed) and no merge logic: the submission (a probe for an
 * existing record, HSET of the record, ZADD to the time, status, function, queue and update
 * indexes) and then the completion (HMGET of the fields a merge compares, HSET of the outcome,
 * the status move ZREM + ZADD, ZADD to the update index). No counters, no log lines.
 */
const FLOOR_SUBMISSION = `
local t = tonumber(ARGV[1])
local z = {}
for i = 2, #ARGV do
  local id, at = ARGV[i], t + i
  local key = "floor:task:" .. id
  redis.call("HGET", key, "st")
  redis.call("HSET", key, "fk", "${FUNCTION_KEY}", "q", "bench", "pr", "5", "p", '{"n":1}', "mr", "3",
    "to", "30000", "md", "{}", "ca", at, "sa", at, "st", "PENDING", "ua", at)
  z[#z + 1] = at
  z[#z + 1] = id
end
for _, index in ipairs({ "time", "st:PENDING", "fn:${FUNCTION_KEY}", "q:bench", "upd" }) do
  redis.call("ZADD", "floor:" .. index, unpack(z))
end
`;
const FLOOR_COMPLETION = `
local t = tonumber(ARGV[1])
local z, ids = {}, {}
for i = 2, #ARGV do
  local id, at = ARGV[i], t + i
  local key = "floor:task:" .. id
  redis.call("HMGET", key, "st", "r", "a", "sa", "ua", "ra", "cd", "e", "fk", "q", "ca", "sd")
  redis.call("HSET", key, "st", "SUCCESS", "sd", at, "cd", at, "du", "1", "re", "null", "w", "w-1",
    "dc", "1", "ua", at)
  z[#z + 1] = at
  z[#z + 1] = id
  ids[#ids + 1] = id
end
redis.call("ZREM", "floor:st:PENDING", unpack(ids))
redis.call("ZADD", "floor:st:SUCCESS", unpack(z))
redis.call("ZADD", "floor:upd", unpack(z))
`;

async function floorCost(admin: Redis): Promise<{ submission: number; completion: number }> {
  const ids = Array.from({ length: TASKS }, () => newTaskId());
  const now = Date.now();
  const phase = async (script: string) => {
    const m = await measure(admin, async () => {
      for (let i = 0; i < TASKS; i += 1_000) {
        await admin.eval(script, 0, now + i, ...ids.slice(i, i + 1_000));
      }
    });
    return m.redisCpuUs / TASKS;
  };
  return { submission: await phase(FLOOR_SUBMISSION), completion: await phase(FLOOR_COMPLETION) };
}

/** Phase 3: the broker's Redis work, the record model's floor and the store, per task. */
async function floorPhase(url: string, admin: Redis): Promise<string[]> {
  const broker = await openBroker(`${url}?prefix=floor-broker`);
  const enqueued = await measure(admin, () => enqueue(broker));
  const drained = await measure(admin, () => drainBroker(broker, noTracking));
  await broker.close();
  const floor = await floorCost(admin);
  // The store itself, fed the same two steps directly (batches of 1,000, no writer, no log line).
  const store = openRedisTrackingStore(`${url}?prefix=floor-store&retention=7d`);
  await store.migrate();
  const ids = Array.from({ length: TASKS }, () => newTaskId());
  const now = Date.now();
  const steps = async (events: (id: string, at: number) => TaskEvent[]) => {
    const m = await measure(admin, async () => {
      for (let i = 0; i < TASKS; i += 1_000) {
        await store.record(ids.slice(i, i + 1_000).flatMap((id, k) => events(id, now + i + k)));
      }
    });
    return m.redisCpuUs / TASKS;
  };
  const descriptive = {
    functionKey: FUNCTION_KEY,
    queue: "bench",
    priority: 5,
    payload: { n: 1 },
    maxRetries: 3,
    timeoutMs: 30_000,
    metadata: {},
  };
  const stored = {
    submission: await steps((id, at) => [
      { ...descriptive, taskId: id, run: 0, attempt: 0, status: "PENDING", at, createdAt: at },
    ]),
    completion: await steps((id, at) => [
      {
        ...descriptive,
        taskId: id,
        run: 0,
        attempt: 0,
        status: "STARTED",
        at: at + 1,
        createdAt: at,
        startedAt: at + 1,
        workerId: "w-1",
        deliveryCount: 1,
      },
      {
        ...descriptive,
        taskId: id,
        run: 0,
        attempt: 0,
        status: "SUCCESS",
        at: at + 2,
        createdAt: at,
        completedAt: at + 2,
        durationMs: 1,
        result: null,
        workerId: "w-1",
      },
    ]),
  };
  await store.close();
  const broker1 = enqueued.redisCpuUs / TASKS;
  const broker2 = drained.redisCpuUs / TASKS;
  const rate1 = (TASKS / enqueued.ms) * 1000;
  const rate2 = (TASKS / drained.ms) * 1000;
  const us = (n: number) => `${fmt(n, 1)} µs`;
  // One Redis process doing broker + tracking work can serve at most 1 / (their sum) tasks/s.
  const cap = (b: number, t: number, off: number) => {
    const most = 1e6 / (b + t);
    return `${fmt(most)}/s = ${fmt(Math.min(1, most / off) * 100)}%`;
  };
  return [
    "## 3. The floor: Redis CPU per task of the broker and of the record model's own commands",
    "",
    "| per task | submission (enqueue) | completion (drain) |",
    "| --- | --- | --- |",
    `| Redis Streams broker, tracking off: tasks/s | ${fmt(rate1)}/s | ${fmt(rate2)}/s |`,
    `| Redis Streams broker, tracking off: Redis CPU | ${us(broker1)} | ${us(broker2)} |`,
    `| record model floor (its commands alone, one script per 1,000 tasks): Redis CPU | ${us(floor.submission)} | ${us(floor.completion)} |`,
    `| Redis tracking store (record() of 1,000 tasks at a time): Redis CPU | ${us(stored.submission)} | ${us(stored.completion)} |`,
    `| most tasks/s one Redis serves with tracking at the floor, and its share of tracking off | ${cap(broker1, floor.submission, rate1)} | ${cap(broker2, floor.completion, rate2)} |`,
    `| the same with the store | ${cap(broker1, stored.submission, rate1)} | ${cap(broker2, stored.completion, rate2)} |`,
    "",
    "The floor runs per task only the commands the issue's record model needs (submission: a probe, HSET of the record, ZADD to the time, status, function, queue and update indexes; completion: HMGET of the fields a merge compares, HSET of the outcome, the status move, the update index), in one script per 1,000 tasks with the values written into it: no merge logic, no parsing of rows, no counters. With broker and tracking store on one Redis, that process serves at most 1 / (broker + tracking CPU per task) tasks/s, whatever the store's code does; the share compares that with the tracking-off rate measured here (one client process, so the real queue benchmark, with producer and worker in processes of their own, runs faster still with tracking off).",
  ];
}

async function main(): Promise<void> {
  const server = await startPrivateRedis({ persistence: "none" });
  const admin = new Redis(server.url);
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-bench-tracking-"));
  const out: string[] = [];
  try {
    const info = await admin.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1];
    out.push(`# Redis tracking store — ${new Date().toISOString()}`);
    out.push("");
    out.push(
      `Node ${process.version} · ${os.cpus().length} CPUs · load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")} · Redis ${version} of its own (no persistence) · ${fmt(TASKS)} tasks`,
    );
    out.push("");
    out.push("## 1. The store, through the BestEffortWriter");
    out.push("");
    out.push("| events | tasks/s | client CPU per task | Redis CPU per task |");
    out.push("| --- | --- | --- | --- |");
    const store = openRedisTrackingStore(`${server.url}?prefix=bench&retention=7d`);
    await store.migrate();
    out.push(...(await storePhase(store, admin)));
    await store.close();
    await admin.flushall();

    out.push("");
    out.push("## 2. A worker draining the SQLite broker (concurrency 100), tracking off and on");
    out.push("");
    out.push(
      "| tracking | tasks/s | worker CPU per task | Redis CPU per task | throughput vs tracking off | tracking items written / dropped |",
    );
    out.push("| --- | --- | --- | --- | --- | --- |");
    const off = await drain(dir, noTracking, undefined);
    const rate = (m: Measured) => (TASKS / m.ms) * 1000;
    // The writer's counts at the end of the drain: a store slower than the worker drops events.
    const row = (what: string, m: Measured, writer?: BestEffortWriter) => {
      const stats = writer?.stats();
      out.push(
        `| ${what} | ${fmt(rate(m))}/s | ${fmt(m.clientCpuUs / TASKS, 1)} µs | ${m.redisCpuUs ? `${fmt(m.redisCpuUs / TASKS, 1)} µs` : "—"} | ${fmt((rate(m) / rate(off)) * 100)}% | ${stats ? `${fmt(stats.written)} / ${fmt(stats.dropped)} (${fmt(stats.pending)} pending)` : "—"} |`,
      );
    };
    row("off", off);
    const redisStore = openRedisTrackingStore(`${server.url}?prefix=drain&retention=7d`);
    await redisStore.migrate();
    const redisWriter = new BestEffortWriter(redisStore, { logger: silentLogger() });
    await redisWriter.start();
    row("Redis store", await drain(dir, redisWriter, admin), redisWriter);
    await redisWriter.stop();
    await redisStore.close();
    const sqlStore = await openSqlTrackingStore(`sqlite://${path.join(dir, "tracking.db")}`);
    await sqlStore.migrate();
    const sqlWriter = new BestEffortWriter(sqlStore, { logger: silentLogger() });
    await sqlWriter.start();
    row("SQLite store", await drain(dir, sqlWriter, undefined), sqlWriter);
    await sqlWriter.stop();
    await sqlStore.close();
    out.push("");
    out.push(
      "Worker CPU: the process's user + system time over the drain / tasks. Redis CPU: the server's used_cpu over the same window / tasks. The drain starts from a backlog enqueued without tracking, so the worker's events (STARTED, SUCCESS) are what tracking costs here.",
    );
    await admin.flushall();
    out.push("");
    out.push(...(await floorPhase(server.url, admin)));
  } finally {
    admin.disconnect();
    await server.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(out.join("\n"));
}

await main();

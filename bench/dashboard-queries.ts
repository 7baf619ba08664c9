import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { ApiKeyVerifier } from "../src/api/auth/api-key-verifier.js";
import { startRestServer } from "../src/api/rest/server.js";
import { TaskService } from "../src/api/task-service.js";
import { createMemoryBroker } from "../src/broker/memory/memory-broker.js";
import { newTaskId } from "../src/core/ids.js";
import type { TaskStatus } from "../src/core/status.js";
import { silentLogger } from "../src/logging/logger.js";
import { Producer } from "../src/producer/producer.js";
import { openSqlTrackingStore } from "../src/tracking/sql/sql-tracking-store.js";
import type { TaskEvent, TrackingStore } from "../src/tracking/tracking-store.js";
import { table } from "./report.js";

// The dashboard's read queries with a large tracking store (issue 7: "with 100,000 tracked tasks,
// the task list's first page and a filtered search each answer in under 300 ms server time").
// The store is filled with a realistic mix (statuses, 20 function keys, 4 queues, errors, a day
// of creation times), then each query is sent to a real REST server over HTTP on localhost, so a
// figure is the whole round trip: server time plus loopback (an upper bound of server time).
// SQLite always; PostgreSQL when reachable. `BENCH_DASHBOARD_TASKS` (default 100 000),
// `BENCH_DASHBOARD=off` skips it in `npm run bench`; run alone with
// `tsc -p tsconfig.bench.json && node dist-bench/bench/dashboard-queries.js`.

const KEY = "gtq_bench_dashboard_key_0123456789abcdef";
const RUNS = 30;
const WARMUP = 3;

interface Row {
  query: string;
  sqlite?: string;
  postgres?: string;
}

function statusOf(i: number): TaskStatus {
  const r = i % 20;
  if (r < 14) return "SUCCESS";
  if (r < 16) return "FAILURE";
  if (r < 17) return "CANCELED";
  if (r < 19) return "PENDING";
  return "STARTED";
}

async function fill(store: TrackingStore, tasks: number, now: number): Promise<string> {
  const dayMs = 86_400_000;
  let sampleId = "";
  for (let start = 0; start < tasks; start += 5_000) {
    const events: TaskEvent[] = [];
    for (let i = start; i < Math.min(tasks, start + 5_000); i += 1) {
      const id = newTaskId();
      if (i === Math.floor(tasks / 2)) sampleId = id;
      const createdAt = now - dayMs + Math.floor((i / tasks) * dayMs);
      const status = statusOf(i);
      events.push({
        taskId: id,
        run: 0,
        attempt: 0,
        status: "PENDING",
        at: createdAt,
        createdAt,
        functionKey: `fn.${i % 17}`,
        queue: `q${i % 4}`,
        priority: 5,
        payload: { i, note: "a payload of ordinary size", tags: ["a", "b"] },
        maxRetries: 3,
        timeoutMs: 30_000,
        metadata: { tenant: `t${i % 50}` },
      });
      if (status !== "PENDING") {
        const at = createdAt + 50 + (i % 500);
        events.push({
          taskId: id,
          run: 0,
          attempt: 0,
          status,
          at,
          ...(status === "STARTED" ? { startedAt: at } : { completedAt: at, durationMs: 40 }),
          ...(status === "SUCCESS" ? { result: { ok: true } } : {}),
          ...(status === "FAILURE"
            ? {
                error: {
                  message: i % 3 === 0 ? `upstream timeout after 30 s (${i})` : `bad input ${i}`,
                  type: "Error",
                },
              }
            : {}),
        });
      }
    }
    await store.record(events);
  }
  return sampleId;
}

async function measure(url: string): Promise<{ median: number; p95: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < WARMUP + RUNS; i += 1) {
    const started = performance.now();
    const response = await fetch(url, { headers: { authorization: `Bearer ${KEY}` } });
    const body = (await response.json()) as { tasks?: unknown[]; queues?: unknown[] };
    const elapsed = performance.now() - started;
    if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
    rows = (body.tasks ?? body.queues ?? []).length;
    if (i >= WARMUP) times.push(elapsed);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) =>
    times[Math.min(times.length - 1, Math.floor(q * times.length))] as number;
  return { median: at(0.5), p95: at(0.95), rows };
}

async function measureStore(
  store: TrackingStore,
  tasks: number,
  label: "sqlite" | "postgres",
  rows: Map<string, Row>,
): Promise<void> {
  const now = Date.now();
  process.stderr.write(`bench: dashboard queries, filling ${label} with ${tasks} tasks…\n`);
  const filledAt = performance.now();
  const sampleId = await fill(store, tasks, now);
  process.stderr.write(
    `bench: filled in ${Math.round((performance.now() - filledAt) / 1_000)} s; measuring…\n`,
  );
  const logger = silentLogger();
  const broker = createMemoryBroker();
  const service = new TaskService({
    producer: new Producer({ broker, logger }),
    broker,
    tracking: store,
    logger,
  });
  const rest = await startRestServer({
    service,
    auth: await ApiKeyVerifier.load({ plaintextKeys: [KEY] }),
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: 1_048_576,
    logger,
  });
  const since = new Date(now - 3_600_000).toISOString();
  const queries: [string, string][] = [
    ["task list, first page (50)", "/v1/tasks"],
    ["filtered: status=FAILURE & function_key", "/v1/tasks?status=FAILURE&function_key=fn.3"],
    ["filtered: queue & last hour", `/v1/tasks?queue=q2&since=${encodeURIComponent(since)}`],
    ["search: error text (q=timeout)", "/v1/tasks?q=timeout"],
    ["search: id fragment", `/v1/tasks?q=${sampleId.slice(-12)}`],
    ["search: no match", "/v1/tasks?q=no-such-text-anywhere"],
    ["second page (cursor)", ""],
    ["throughput, last hour", "/v1/stats/throughput?window=1h"],
  ];
  try {
    const first = (await (
      await fetch(`${rest.url}/v1/tasks`, { headers: { authorization: `Bearer ${KEY}` } })
    ).json()) as { next_cursor?: string };
    for (const [name, pathAndQuery] of queries) {
      const target =
        pathAndQuery || `/v1/tasks?cursor=${encodeURIComponent(first.next_cursor ?? "")}`;
      const m = await measure(`${rest.url}${target}`);
      const row = rows.get(name) ?? { query: name };
      row[label] = `${m.median.toFixed(1)} / ${m.p95.toFixed(1)} (${m.rows} rows)`;
      rows.set(name, row);
    }
    // The live feed's poll: records changed in the last 3 s, on an idle store.
    const times: number[] = [];
    for (let i = 0; i < RUNS; i += 1) {
      const started = performance.now();
      await store.updates({ updatedSince: Date.now() - 3_000, limit: 500 });
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const name = "live feed poll (store call, idle)";
    const row = rows.get(name) ?? { query: name };
    row[label] =
      `${(times[RUNS / 2] as number).toFixed(1)} / ${(times[Math.floor(RUNS * 0.95)] as number).toFixed(1)}`;
    rows.set(name, row);
  } finally {
    await rest.close();
    await broker.close();
  }
}

async function postgresReachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

/** Runs the phase and returns its markdown section. */
export async function runDashboardPhase(): Promise<string> {
  const tasks = Number(process.env.BENCH_DASHBOARD_TASKS ?? 100_000);
  const rows = new Map<string, Row>();
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-bench-dashboard-"));
  try {
    const sqlite = await openSqlTrackingStore(`sqlite://${path.join(dir, "tracking.db")}`);
    await sqlite.migrate();
    try {
      await measureStore(sqlite, tasks, "sqlite", rows);
    } finally {
      await sqlite.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const pgUrl = process.env.BENCH_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  let pgNote = "";
  if (await postgresReachable(pgUrl)) {
    const schema = `gotaskq_bench_${Date.now().toString(36)}`;
    const store = await openSqlTrackingStore(pgUrl, { schema });
    try {
      await store.migrate();
      await measureStore(store, tasks, "postgres", rows);
    } finally {
      await store.close();
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`drop schema if exists ${schema} cascade`);
      await client.end();
    }
  } else {
    pgNote = `\nPostgreSQL (${pgUrl}) not reachable: its column is empty.\n`;
  }
  const lines = [
    `## Dashboard queries (${tasks.toLocaleString("en")} tracked tasks)`,
    "",
    `HTTP round trip on localhost in ms, median / p95 of ${RUNS} requests after ${WARMUP} warm-up ones (target: under 300 ms server time).`,
    "",
    // Padded as `biome format` writes tables, so the committed report passes `npm run lint`.
    table(
      ["query", "SQLite", "PostgreSQL"],
      [...rows.values()].map((r) => [r.query, r.sqlite ?? "–", r.postgres ?? "–"]),
    ),
    pgNote,
  ];
  return `${lines.join("\n")}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await runDashboardPhase());
}

// Benchmark settings, read from the environment once by the orchestrator (bench/run.ts) and
// handed to every child as plain data. Defaults are the sizes the issue asks for; a smoke run is
// `BENCH_TASKS=5000 npm run bench`.

export const SYSTEMS = ["gotaskq-tracking", "gotaskq-no-tracking", "bullmq", "raw-sqlite"] as const;
export type SystemName = (typeof SYSTEMS)[number];

export interface BenchConfig {
  /** Backlog size for the enqueue and drain scenarios (`BENCH_TASKS`, default 100 000). */
  tasks: number;
  /** Tasks of the produce-while-consume scenario (`BENCH_MIXED_TASKS`, default tasks / 2). */
  mixedTasks: number;
  /** Handlers a worker runs at once, same for every system (`BENCH_CONCURRENCY`, default 100). */
  concurrency: number;
  /** Messages per publish call: `submitBatch` / `addBulk` (`BENCH_BATCH`, default 1 000). */
  batchSize: number;
  /** Where BullMQ's Redis runs (`BENCH_REDIS_URL`, default redis://127.0.0.1:6379). */
  redisUrl: string;
  /** Systems measured, comma-separated (`BENCH_SYSTEMS`, default all of SYSTEMS). */
  systems: SystemName[];
  /** A child that has not finished after this long is killed (`BENCH_TIMEOUT_MS`, default 15 min). */
  timeoutMs: number;
  /** When set, every child writes a V8 CPU profile here (`BENCH_CPU_PROF_DIR`, default unset). */
  cpuProfileDir?: string;
  /** Where the markdown report is written (`BENCH_RESULTS`, default bench/results/latest.md). */
  resultsPath: string;
}

type Env = Record<string, string | undefined>;

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw.replaceAll("_", ""));
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${name} must be a positive integer such as 5000 (got ${JSON.stringify(raw)})`);
  }
  return n;
}

function systemsOf(raw: string | undefined): SystemName[] {
  if (raw === undefined || raw.trim() === "") return [...SYSTEMS];
  const wanted = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  for (const name of wanted) {
    if (!(SYSTEMS as readonly string[]).includes(name)) {
      throw new Error(
        `BENCH_SYSTEMS: unknown system ${JSON.stringify(name)}; use some of ${SYSTEMS.join(",")}`,
      );
    }
  }
  return SYSTEMS.filter((s) => wanted.includes(s));
}

export function readBenchConfig(env: Env): BenchConfig {
  const tasks = positiveInt(env, "BENCH_TASKS", 100_000);
  const cpuProfileDir = env.BENCH_CPU_PROF_DIR;
  return {
    tasks,
    mixedTasks: positiveInt(env, "BENCH_MIXED_TASKS", Math.max(1, Math.floor(tasks / 2))),
    concurrency: positiveInt(env, "BENCH_CONCURRENCY", 100),
    batchSize: positiveInt(env, "BENCH_BATCH", 1_000),
    redisUrl: env.BENCH_REDIS_URL || "redis://127.0.0.1:6379",
    systems: systemsOf(env.BENCH_SYSTEMS),
    timeoutMs: positiveInt(env, "BENCH_TIMEOUT_MS", 15 * 60_000),
    ...(cpuProfileDir ? { cpuProfileDir } : {}),
    resultsPath: env.BENCH_RESULTS || "bench/results/latest.md",
  };
}

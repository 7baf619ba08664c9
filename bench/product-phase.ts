import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { BenchBackend } from "./backends/backend.js";
import type { ProductConfig, ProductScenario, ProductTracking } from "./config.js";
import { runBullCell, runGoTaskQCell } from "./product-cells.js";
import type { CellContext, ProductCell } from "./product-timing.js";
import type { ChildSpec } from "./protocol.js";
import { startChild } from "./spawn-child.js";

// The product phase of `npm run bench` (issue 14): GoTaskQ as users run it, the built CLI
// (`gotaskq dev`, `gotaskq server` + `gotaskq worker`) with its default configuration and
// logging, and a `Producer` in a user's own process, each timed end to end from the first
// submission until the queue is empty. Per scenario: every backend and tracking variant, then
// BullMQ in the same process layout (so a burst of load from elsewhere hits one cell, not a
// whole column). The raw client ceilings of RabbitMQ and SQS (bench/raw-*-scenarios.ts, producer
// and worker at once) run once per scenario, after that backend's cells. Each cell's folder is removed once it is measured; the backends'
// server-side leftovers are removed by their `stop` (bench/backends/), BullMQ's by run.ts.

/** Cells by key: `<backend>/<scenario>/<tracking>`, `bullmq/<scenario>`, `<backend>/<scenario>/raw`. */
export type ProductResults = Record<string, ProductCell>;

export const RAW_BACKENDS = ["rabbitmq", "sqs"] as const;

export interface ProductPhaseContext {
  config: ProductConfig;
  backends: readonly BenchBackend[];
  runId: string;
  tempRoot: string;
  /** BullMQ's Redis and key prefix; `bullReachable` false marks BullMQ's cells. */
  redisUrl: string;
  bullPrefix: string;
  bullReachable: boolean;
  timeoutMs: number;
}

export const productKey = (backend: string, scenario: ProductScenario, tracking: ProductTracking) =>
  `${backend}/${scenario}/${tracking}`;

/** The tracking variants measured for one backend and scenario. */
export function variantsOf(
  config: ProductConfig,
  backend: string,
  scenario: ProductScenario,
): ProductTracking[] {
  return config.tracking.filter(
    (t) =>
      t !== "sqlite" ||
      (backend === "redis" && (scenario === "dev-batches" || scenario === "server-1-worker")),
  );
}

/** The raw ceiling: producer and worker children at once, timed until the worker's last ack. */
async function runRawCell(
  ctx: ProductPhaseContext,
  backend: BenchBackend,
  scenario: ProductScenario,
): Promise<ProductCell> {
  // Scope and queue as the queue phase's "mixed" group names them: the backend's stop removes it.
  const scope = `${ctx.runId}-product-${scenario}-raw-mixed`;
  const dir = path.join(ctx.tempRoot, `product-${backend.name}-${scenario}-raw`);
  mkdirSync(dir, { recursive: true });
  const spec = (role: "producer" | "worker"): ChildSpec => ({
    role,
    target: { system: "raw", backend: backend.name, url: backend.rawUrl(scope, dir) },
    queue: `bench-mixed-${ctx.runId}`,
    tasks: ctx.config.tasks,
    batchSize: 1_000,
    concurrency: ctx.config.concurrency,
  });
  const options = (role: string) => ({
    label: `product ${backend.name} raw ${role}`,
    timeoutMs: ctx.timeoutMs,
  });
  const worker = await startChild(spec("worker"), options("worker"));
  let producer: Awaited<ReturnType<typeof startChild>>;
  try {
    producer = await startChild(spec("producer"), options("producer"));
  } catch (error) {
    worker.kill();
    throw error;
  }
  worker.go();
  producer.go();
  const [w, p] = await Promise.all([worker.done, producer.done]).catch((error: unknown) => {
    worker.kill();
    producer.kill();
    throw error;
  });
  rmSync(dir, { recursive: true, force: true });
  if (w.count !== ctx.config.tasks) {
    return { ok: false, reason: `only ${w.count} of ${ctx.config.tasks} tasks` };
  }
  return {
    ok: true,
    tasks: w.count,
    elapsedMs: w.elapsedMs,
    submittedMs: p.elapsedMs,
    deadLettered: 0,
    processes: [
      { label: "raw producer", peakRssBytes: p.peakRssBytes, cpuMs: 0, stdoutBytes: 0, exit: "" },
      { label: "raw worker", peakRssBytes: w.peakRssBytes, cpuMs: 0, stdoutBytes: 0, exit: "" },
    ],
  };
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

async function measure(label: string, run: () => Promise<ProductCell>): Promise<ProductCell> {
  process.stderr.write(`bench: product ${label}…\n`);
  const cell = await run().catch(
    (error: unknown): ProductCell => ({
      ok: false,
      reason: `failed: ${(error as Error).message.split("\n")[0]}`,
    }),
  );
  if (cell.ok) {
    const rss = cell.processes.map((p) => `${p.label} ${int.format(p.peakRssBytes / 1_048_576)}`);
    process.stderr.write(
      `bench:   ${int.format((cell.tasks * 1_000) / cell.elapsedMs)} tasks/s end to end (submitted in ${int.format(cell.submittedMs)} ms), peak RSS MiB: ${rss.join(", ")}\n`,
    );
  } else {
    process.stderr.write(`bench:   ${cell.reason}\n`);
  }
  // Let the stopped processes' exit and the file system settle before the next cell.
  await sleep(1_000);
  return cell;
}

export async function runProductPhase(ctx: ProductPhaseContext): Promise<ProductResults> {
  const results: ProductResults = {};
  const apiKey = `gtq_bench_${randomBytes(24).toString("base64url")}`;
  const { config } = ctx;
  process.stderr.write(
    `bench: product phase, ${config.tasks} tasks per cell, scenarios ${config.scenarios.join(",")}, backends ${ctx.backends.map((b) => b.name).join(",")}\n`,
  );
  for (const scenario of config.scenarios) {
    for (const backend of ctx.backends) {
      for (const tracking of variantsOf(config, backend.name, scenario)) {
        const key = productKey(backend.name, scenario, tracking);
        const cell: CellContext = {
          config,
          dir: path.join(ctx.tempRoot, `product-${key.replaceAll("/", "-")}`),
          scope: `${ctx.runId}-product-${scenario}-${tracking}`,
          apiKey,
        };
        results[key] = await measure(key, () => runGoTaskQCell(cell, scenario, backend, tracking));
        rmSync(cell.dir, { recursive: true, force: true });
      }
      // Beside the cells it is compared with, so both meet the same load from elsewhere.
      if ((RAW_BACKENDS as readonly string[]).includes(backend.name)) {
        const rawKey = `${backend.name}/${scenario}/raw`;
        results[rawKey] = await measure(rawKey, () => runRawCell(ctx, backend, scenario));
      }
    }
    const key = `bullmq/${scenario}`;
    if (!ctx.bullReachable) {
      results[key] = { ok: false, reason: `Redis not reachable at ${ctx.redisUrl}` };
      continue;
    }
    const dir = path.join(ctx.tempRoot, `product-bullmq-${scenario}`);
    results[key] = await measure(key, () =>
      runBullCell(
        {
          config,
          dir,
          scope: scenario,
          apiKey,
          redisUrl: ctx.redisUrl,
          prefix: ctx.bullPrefix,
          queue: `product-${scenario}-${ctx.runId}`,
        },
        scenario,
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  }
  return results;
}

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type ApiResults, runApiPhase } from "./api-phase.js";
import { renderApiSection } from "./api-report.js";
import type { BenchBackend } from "./backends/backend.js";
import { loadBackend } from "./backends/load.js";
import { deleteBullKeys, describeRedis, redisReachable } from "./bullmq-scenarios.js";
import { runCliStartupPhase } from "./cli-startup.js";
import { type BenchConfig, readBenchConfig, type SystemName } from "./config.js";
import { runDashboardPhase } from "./dashboard-queries.js";
import { type ProductResults, runProductPhase } from "./product-phase.js";
import { renderProductSection } from "./product-report.js";
import type { ChildReport, ChildSpec, Role, Target } from "./protocol.js";
import {
  type BackendInfo,
  type Cell,
  cellKey,
  type MachineInfo,
  type Results,
  renderReport,
  SCENARIOS,
  type ScenarioName,
} from "./report.js";
import { startChild } from "./spawn-child.js";

// `npm run bench`: the orchestrator. For each scenario it runs every column of every backend
// (bench/backends/) in turn, then BullMQ (so a burst of load from elsewhere on a shared machine
// hits one cell, not one whole column), each producer
// and worker in its own child process, then prints the markdown report and writes it to
// bench/results/latest.md. First, the product phase (bench/product-phase.ts) measures the built CLI
// processes end to end, as users run them; its tables lead the report. Scenario 1 builds the backlog that scenario 2 drains; scenario 3 uses
// fresh storage. Then the API phase (bench/api-phase.ts) measures REST and gRPC submission beside
// bare references. Temp files, this run's BullMQ keys and what each backend left are removed.

type Group = "backlog" | "mixed";

interface RunContext {
  config: BenchConfig;
  runId: string;
  tempRoot: string;
  bullPrefix: string;
}

/** One column of one backend's table (BullMQ's column has no backend of its own). */
interface Column {
  key: string;
  system: SystemName;
  backend?: BenchBackend;
}

function targetFor(ctx: RunContext, column: Column, group: Group): Target {
  const { system, backend } = column;
  if (system === "bullmq" || !backend) {
    return { system: "bullmq", redisUrl: ctx.config.redisUrl, prefix: ctx.bullPrefix };
  }
  const scope = `${ctx.runId}-${system}-${group}`;
  const dir = path.join(ctx.tempRoot, `${backend.name}-${system}-${group}`);
  mkdirSync(dir, { recursive: true });
  switch (system) {
    case "gotaskq-tracking":
      return {
        system: "gotaskq",
        brokerUrl: backend.brokerUrl(scope, dir),
        trackingUrl:
          backend.trackingUrl?.(scope, dir) ?? `sqlite://${path.join(dir, "tracking.db")}`,
      };
    case "gotaskq-no-tracking":
      return { system: "gotaskq", brokerUrl: backend.brokerUrl(scope, dir) };
    case "raw":
      return { system: "raw", backend: backend.name, url: backend.rawUrl(scope, dir) };
  }
}

function specFor(ctx: RunContext, column: Column, scenario: ScenarioName, role: Role): ChildSpec {
  const group: Group = scenario === "mixed" ? "mixed" : "backlog";
  const { config } = ctx;
  return {
    role,
    target: targetFor(ctx, column, group),
    // A fresh queue name per group and run: BullMQ keys never collide with an earlier run's.
    queue: `bench-${group}-${ctx.runId}`,
    tasks: scenario === "mixed" ? config.mixedTasks : config.tasks,
    batchSize: config.batchSize,
    concurrency: config.concurrency,
  };
}

function execArgvFor(
  ctx: RunContext,
  column: Column,
  scenario: ScenarioName,
  role: Role,
): string[] {
  const dir = ctx.config.cpuProfileDir;
  if (!dir) return [];
  return [
    "--cpu-prof",
    "--cpu-prof-dir",
    dir,
    "--cpu-prof-name",
    `${column.key.replace("/", "-")}-${scenario}-${role}.cpuprofile`,
  ];
}

function cellOf(
  report: ChildReport,
  tasks: number,
  extra: Record<string, number | string> = {},
): Cell {
  if (report.count !== tasks) {
    return { ok: false, reason: `only ${report.count} of ${tasks} tasks` };
  }
  return {
    ok: true,
    tasks,
    elapsedMs: report.elapsedMs,
    peakRssBytes: report.peakRssBytes,
    details: { ...report.details, ...extra },
  };
}

async function runScenario(ctx: RunContext, column: Column, scenario: ScenarioName): Promise<Cell> {
  const start = (role: Role) =>
    startChild(specFor(ctx, column, scenario, role), {
      label: `${column.key} ${scenario} ${role}`,
      timeoutMs: ctx.config.timeoutMs,
      execArgv: execArgvFor(ctx, column, scenario, role),
    });
  const tasks = specFor(ctx, column, scenario, "worker").tasks;
  if (scenario === "enqueue" || scenario === "drain") {
    const child = await start(scenario === "enqueue" ? "producer" : "worker");
    child.go();
    return cellOf(await child.done, tasks);
  }
  // Produce and consume at once: both children connected and idle, then started together.
  const worker = await start("worker");
  let producer: Awaited<ReturnType<typeof start>>;
  try {
    producer = await start("producer");
  } catch (error) {
    worker.kill();
    throw error;
  }
  worker.go();
  producer.go();
  const [workerReport, producerReport] = await Promise.all([worker.done, producer.done]);
  return cellOf(workerReport, tasks, {
    "producer done after (ms)": Math.round(producerReport.elapsedMs),
    "producer peak RSS (MiB)": Math.round(producerReport.peakRssBytes / 1_048_576),
  });
}

function packageVersion(file: string): string {
  try {
    const json: unknown = JSON.parse(readFileSync(file, "utf8"));
    const version = (json as { version?: unknown }).version;
    return typeof version === "string" ? version : "?";
  } catch {
    return "?";
  }
}

/** Every backend's columns, then BullMQ's once: the order cells run in within a scenario. */
function columnsOf(config: BenchConfig, backends: readonly BenchBackend[]): Column[] {
  const columns: Column[] = [];
  for (const backend of backends) {
    for (const system of config.systems) {
      if (system !== "bullmq")
        columns.push({ key: cellKey(backend.name, system), system, backend });
    }
  }
  if (config.systems.includes("bullmq")) columns.push({ key: "bullmq", system: "bullmq" });
  return columns;
}

async function runQueuePhase(
  ctx: RunContext,
  backends: readonly BenchBackend[],
  bullReachable: boolean,
): Promise<Results> {
  const { config } = ctx;
  const results: Results = { enqueue: {}, drain: {}, mixed: {} };
  const columns = columnsOf(config, backends);
  process.stderr.write(
    `bench: ${config.tasks} tasks backlog, ${config.mixedTasks} mixed, concurrency ${config.concurrency}, columns ${columns.map((c) => c.key).join(",")}\n`,
  );
  for (const scenario of SCENARIOS) {
    for (const column of columns) {
      let cell: Cell;
      if (column.system === "bullmq" && !bullReachable) {
        cell = { ok: false, reason: "Redis not reachable" };
      } else if (scenario === "drain" && !results.enqueue[column.key]?.ok) {
        cell = { ok: false, reason: "no backlog (enqueue failed)" };
      } else {
        process.stderr.write(`bench: ${scenario} on ${column.key}…\n`);
        cell = await runScenario(ctx, column, scenario).catch(
          (error: unknown): Cell => ({
            ok: false,
            reason: `failed: ${(error as Error).message}`,
          }),
        );
        if (cell.ok) {
          process.stderr.write(
            `bench:   ${Math.round((cell.tasks * 1_000) / cell.elapsedMs)} tasks/s, peak RSS ${Math.round(cell.peakRssBytes / 1_048_576)} MiB\n`,
          );
        } else {
          process.stderr.write(`bench:   ${cell.reason}\n`);
        }
        // Let the previous children's exit and the file system settle before the next cell.
        await sleep(1_000);
      }
      results[scenario][column.key] = cell;
    }
  }
  return results;
}

/** Loads and starts the backends asked for; the others are reported with the reason. */
async function startBackends(
  config: BenchConfig,
  runId: string,
): Promise<{ started: BenchBackend[]; infos: BackendInfo[] }> {
  const started: BenchBackend[] = [];
  const infos: BackendInfo[] = [];
  for (const name of config.backends) {
    const loaded = await loadBackend(name);
    if (!loaded.ok) {
      process.stderr.write(`bench: backend ${name} skipped: ${loaded.reason}\n`);
      infos.push({
        name,
        title: name,
        rawLabel: "",
        rawDescription: "",
        describe: loaded.reason,
        measured: false,
      });
      continue;
    }
    const { backend } = loaded;
    const info = {
      name,
      title: backend.title,
      rawLabel: backend.rawLabel,
      rawDescription: backend.rawDescription,
    };
    try {
      await backend.start(runId);
    } catch (error) {
      const reason = `could not start: ${(error as Error).message}`;
      process.stderr.write(`bench: backend ${name} skipped: ${reason}\n`);
      infos.push({ ...info, describe: reason, measured: false });
      continue;
    }
    started.push(backend);
    infos.push({ ...info, describe: await backend.describe(), measured: true });
  }
  return { started, infos };
}

async function main(): Promise<void> {
  const config = readBenchConfig(process.env);
  const runId = `${Date.now().toString(36)}-${process.pid}`;
  const ctx: RunContext = {
    config,
    runId,
    tempRoot: mkdtempSync(path.join(os.tmpdir(), "gotaskq-bench-")),
    bullPrefix: `gotaskq-bench-${runId}`,
  };
  const loadAtStart = os.loadavg();
  // BENCH_CLI=only: the CLI start-up section alone; otherwise it runs first, on a quiet machine.
  const cliOnly = config.cli === "only";
  const productOnly = !cliOnly && config.product === "only";
  const cliPhase = cliOnly || (config.cli === "on" && !productOnly && config.api !== "only");
  const queuePhase = !cliOnly && !productOnly && config.api !== "only";
  const productPhase =
    !cliOnly && (productOnly || (config.product === "on" && config.api !== "only"));
  const apiPhase = !cliOnly && !productOnly && config.api !== "off";
  const wantsBull = productPhase || (queuePhase && config.systems.includes("bullmq"));
  const bullReachable = wantsBull && (await redisReachable(config.redisUrl));
  const backends =
    queuePhase || productPhase
      ? await startBackends(config, runId)
      : { started: [], infos: [] as BackendInfo[] };
  let results: Results | undefined;
  let product: ProductResults | undefined;
  let api: ApiResults | undefined;
  let cliSection: string | undefined;
  try {
    if (cliPhase) {
      cliSection = await runCliStartupPhase({ runs: config.cliRuns, tempRoot: ctx.tempRoot });
    }
    if (productPhase) {
      product = await runProductPhase({
        config: config.productLoad,
        backends: backends.started,
        runId,
        tempRoot: ctx.tempRoot,
        redisUrl: config.redisUrl,
        bullPrefix: ctx.bullPrefix,
        bullReachable,
        timeoutMs: config.timeoutMs,
      });
    }
    if (queuePhase) results = await runQueuePhase(ctx, backends.started, bullReachable);
    if (apiPhase) {
      api = await runApiPhase({
        load: config.apiLoad,
        redisUrl: config.redisUrl,
        tempRoot: ctx.tempRoot,
        timeoutMs: config.timeoutMs,
        ...(config.cpuProfileDir ? { cpuProfileDir: config.cpuProfileDir } : {}),
      });
    }
  } finally {
    for (const backend of backends.started) {
      await backend.stop(runId).catch((error: unknown) => {
        process.stderr.write(`bench: could not clean up ${backend.name}: ${String(error)}\n`);
      });
    }
    rmSync(ctx.tempRoot, { recursive: true, force: true });
    if (bullReachable) {
      const deleted = await deleteBullKeys(config.redisUrl, ctx.bullPrefix);
      process.stderr.write(`bench: removed ${deleted} Redis keys under ${ctx.bullPrefix}:\n`);
    }
  }
  const cpus = os.cpus();
  const machine: MachineInfo = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? "unknown CPU",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    loadAtStart,
    loadAtEnd: os.loadavg(),
    gotaskqVersion: packageVersion("package.json"),
    bullmqVersion: packageVersion("node_modules/bullmq/package.json"),
    redis: bullReachable
      ? await describeRedis(config.redisUrl)
      : wantsBull
        ? `${config.redisUrl} (not reachable)`
        : "Redis (not measured)",
    backends: backends.infos,
  };
  let markdown = renderReport(results, config, machine, {
    ...(product
      ? { productSection: renderProductSection(product, config.productLoad, backends.infos) }
      : {}),
    ...(api ? { apiSection: renderApiSection(api, config.apiLoad) } : {}),
  });
  // The dashboard's read queries on a large tracking store (bench/dashboard-queries.ts).
  if (process.env.BENCH_DASHBOARD !== "off" && !productOnly && !cliOnly) {
    markdown += `\n${await runDashboardPhase()}`;
  }
  if (cliSection) markdown += `\n${cliSection}`;
  // One newline at the end, as the formatter (npm run lint) wants the committed report.
  markdown = `${markdown.trimEnd()}\n`;
  process.stdout.write(markdown);
  mkdirSync(path.dirname(config.resultsPath), { recursive: true });
  writeFileSync(config.resultsPath, markdown);
  process.stderr.write(`bench: report written to ${config.resultsPath}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});

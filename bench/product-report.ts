import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { CLI_MAIN } from "./cli-process.js";
import type { ProductConfig, ProductScenario, ProductTracking } from "./config.js";
import { type ProductResults, productKey, RAW_BACKENDS, variantsOf } from "./product-phase.js";
import type { ProductCell } from "./product-timing.js";
import { type BackendInfo, table } from "./report.js";

// The product phase's part of the report, which leads it: per broker backend one table of end to
// end throughput with the ratios GoTaskQ / BullMQ (same scenario, same process layout) and, for
// RabbitMQ and SQS, GoTaskQ / the raw client ceiling; then one table of what each process cost
// (peak RSS, CPU per task, log bytes per task, tracking events dropped).

const SCENARIO_TITLES: Record<ProductScenario, string> = {
  "dev-batches": "a. dev, REST batches, 1 client",
  "dev-batches-4-clients": "b. dev, REST batches, 4 clients",
  "dev-singles": "c. dev, single REST submissions",
  "server-1-worker": "d. server + 1 worker, REST batches",
  "server-2-workers": "e. server + 2 workers, REST batches",
  "library-producer": "f. library Producer + 1 worker",
};

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

type Measured = ProductCell & { ok: true };

function rate(cell: ProductCell | undefined): string {
  if (!cell) return "—";
  if (!cell.ok) return cell.reason;
  return `${int.format((cell.tasks * 1_000) / cell.elapsedMs)}/s`;
}

function ratio(a: ProductCell | undefined, b: ProductCell | undefined): string {
  if (!a?.ok || !b?.ok) return "—";
  const r = (c: Measured) => c.tasks / c.elapsedMs;
  return `${(r(a) / r(b)).toFixed(2)}×`;
}

function trackingLabel(backend: string, tracking: ProductTracking): string {
  if (tracking === "off") return "tracking off";
  if (tracking === "sqlite") return "tracking SQLite";
  return backend === "redis" ? "tracking Redis" : "tracking SQLite";
}

function throughputTable(
  results: ProductResults,
  config: ProductConfig,
  backend: BackendInfo,
): string {
  const name = backend.name;
  const variants = config.tracking.filter((t) => t !== "sqlite" || name === "redis");
  const hasRaw = (RAW_BACKENDS as readonly string[]).includes(name);
  const header = [
    "scenario",
    ...variants.map((t) => `GoTaskQ, ${trackingLabel(name, t)}`),
    "BullMQ",
    ...(hasRaw ? [backend.rawLabel] : []),
    ...variants.map((t) => `${trackingLabel(name, t)} / BullMQ`),
    ...(hasRaw ? variants.map((t) => `${trackingLabel(name, t)} / raw`) : []),
  ];
  const rows = config.scenarios.map((scenario) => {
    const measured = variantsOf(config, name, scenario);
    const cell = (t: ProductTracking) =>
      measured.includes(t) ? results[productKey(name, scenario, t)] : undefined;
    const bull = results[`bullmq/${scenario}`];
    const raw = results[`${name}/${scenario}/raw`];
    return [
      SCENARIO_TITLES[scenario],
      ...variants.map((t) => rate(cell(t))),
      rate(bull),
      ...(hasRaw ? [rate(raw)] : []),
      ...variants.map((t) => ratio(cell(t), bull)),
      ...(hasRaw ? variants.map((t) => ratio(cell(t), raw)) : []),
    ];
  });
  return table(header, rows);
}

function processRows(label: string, cell: ProductCell | undefined): string[][] {
  if (!cell?.ok) return [];
  const perTask = (n: number) => n / cell.tasks;
  return cell.processes.map((p) => [
    label,
    p.label,
    `${int.format(p.peakRssBytes / 1_048_576)} MiB`,
    p.cpuMs > 0 ? int.format(perTask(p.cpuMs * 1_000)) : "—",
    p.stdoutBytes > 0 ? int.format(perTask(p.stdoutBytes)) : "0",
    p.trackingDropped !== undefined
      ? `${int.format(p.trackingDropped)} of ${int.format(p.trackingDropped + (p.trackingWritten ?? 0))}`
      : "—",
    int.format(cell.submittedMs),
    p.exit === "code 0" || p.exit === "" ? "" : p.exit,
  ]);
}

const PROCESS_HEADER = [
  "cell",
  "process",
  "peak RSS",
  "CPU per task (µs)",
  "stdout bytes per task",
  "tracking events dropped",
  "all submitted after (ms)",
  "exit",
];

function processTable(results: ProductResults, config: ProductConfig, backend: string): string {
  const rows = config.scenarios.flatMap((scenario) =>
    variantsOf(config, backend, scenario).flatMap((t) =>
      processRows(
        `${SCENARIO_TITLES[scenario].split(".")[0]}. ${trackingLabel(backend, t)}`,
        results[productKey(backend, scenario, t)],
      ),
    ),
  );
  return table(PROCESS_HEADER, rows);
}

/** Newest modification time of the .ts files under `dir`, in ms since the epoch. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith(".ts")) continue;
    newest = Math.max(newest, statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/** When dist/ was built, and whether src/ changed since: the figures are of what was built. */
function builtAt(): string {
  try {
    const built = statSync(CLI_MAIN).mtimeMs;
    const stale = newestSource("src") > built ? "; src/ changed since: run npm run build:cli" : "";
    return `${new Date(built).toISOString()}${stale}`;
  } catch {
    return "not built";
  }
}

export function renderProductSection(
  results: ProductResults,
  config: ProductConfig,
  backends: readonly BackendInfo[],
): string {
  const bullRows = config.scenarios.flatMap((s) =>
    processRows(SCENARIO_TITLES[s].split(".")[0] ?? s, results[`bullmq/${s}`]),
  );
  return [
    "## As users run it: the CLI processes, end to end",
    "",
    `${int.format(config.tasks)} \`demo.echo\` tasks (payload {"i":n}) per cell, timed from the first submission until the queue shows nothing ready, in flight or delayed (GET /v1/queues with the API key, polled every ${config.pollMs} ms once every submission was accepted; in f, the user's process asks its own broker for the same counts). The built CLI (\`node dist/cli/main.js\`, built ${builtAt()}) runs with its default configuration and logging (level info), stdout and stderr of every process redirected to files in the cell's folder (\`gotaskq dev > dev.log 2> dev.err\`); the only settings are \`GOTASKQ_CONCURRENCY=${config.concurrency}\` (dev and every worker), \`GOTASKQ_API_KEYS\` (one key), ports 0 (any free port), the broker and tracking URLs (the embedded broker and SQLite tracking are the CLI's default \`.gotaskq/\` files in the cell's folder), and, in c only, the per-key rate limit raised (its default, 2,000 requests/s, would be all c measures). Workers load a task module exporting \`demo.echo\`. BullMQ runs in the same process layout: one process with a Queue and a Worker (concurrency ${config.concurrency}) for a–c, a producer process and one or two worker processes for d–f, submitting with \`addBulk\` of 1,000 (a, b, d–f) or \`add\` with ${config.connections} in flight (c, as c's REST clients).`,
    "",
    ...backends.flatMap((backend) => {
      if (!backend.measured)
        return [`### ${backend.title}`, "", `Not measured: ${backend.describe}.`, ""];
      return [
        `### ${backend.title}`,
        "",
        "Throughput, end to end (tasks/s, higher is better):",
        "",
        throughputTable(results, config, backend),
        "",
        "Processes (peak RSS is VmHWM read just before SIGTERM; CPU while the cell was timed; tracking events dropped from the `tracking_writer_stats` line logged at shutdown):",
        "",
        processTable(results, config, backend.name),
        "",
      ];
    }),
    "### BullMQ processes",
    "",
    table(PROCESS_HEADER, bullRows),
    "",
    "- a: one client POSTs batches of 1,000 one after another; b: four such clients at once; c: one task per POST /v1/tasks, " +
      `${config.connections} requests in flight; d, e: \`gotaskq server\` with one or two \`gotaskq worker\` processes; f: a script using \`Producer.submitBatch\` (1,000 per call, one after another) feeding one \`gotaskq worker\`.`,
    "- Raw ceiling (RabbitMQ, SQS): the queue phase's raw producer and worker (bench/raw-*-scenarios.ts) run at once on the same number of tasks, timed until the worker's last ack, once per scenario right after that backend's cells: what the client library does with nothing of GoTaskQ, and without REST in front (the same figure for every scenario but for noise).",
    "- Ratios above 1× mean GoTaskQ is faster. The machine is shared: compare the load averages in the header before comparing two reports.",
    "",
  ].join("\n");
}

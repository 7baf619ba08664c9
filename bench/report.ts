import type { BenchConfig, SystemName } from "./config.js";

// Turns measured cells into the markdown report: per broker backend one throughput table and one
// peak-RSS table with the ratios GoTaskQ / BullMQ and GoTaskQ / raw ceiling, then the machine and
// the notes a reader needs to judge the numbers.

export const SCENARIOS = ["enqueue", "drain", "mixed"] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export type Cell =
  | {
      ok: true;
      tasks: number;
      elapsedMs: number;
      /** Peak RSS of the child that did the measured work (producer for enqueue, else worker). */
      peakRssBytes: number;
      details: Record<string, number | string>;
    }
  | { ok: false; reason: string };

/**
 * Cells by scenario, keyed by column: `<backend>/<system>` for GoTaskQ and the raw ceilings
 * (e.g. `redis/gotaskq-tracking`, `sqlite/raw`), `bullmq` for BullMQ (one per scenario).
 */
export type Results = Record<ScenarioName, Record<string, Cell>>;

/** What the report needs to know of a backend: its table's title and column labels. */
export interface BackendInfo {
  name: string;
  title: string;
  rawLabel: string;
  rawDescription: string;
  /** The header line (server version, durability), or why the backend was not measured. */
  describe: string;
  measured: boolean;
}

export interface MachineInfo {
  date: string;
  node: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  loadAtStart: number[];
  loadAtEnd: number[];
  gotaskqVersion: string;
  bullmqVersion: string;
  redis: string;
  backends: BackendInfo[];
}

export function cellKey(backend: string, system: SystemName): string {
  return system === "bullmq" ? "bullmq" : `${backend}/${system}`;
}

function label(system: SystemName, backend: BackendInfo): string {
  switch (system) {
    case "gotaskq-tracking":
      return "GoTaskQ, tracking on";
    case "gotaskq-no-tracking":
      return "GoTaskQ, tracking off";
    case "raw":
      return backend.rawLabel;
    case "bullmq":
      return "BullMQ";
  }
}

function scenarioTitle(scenario: ScenarioName, config: BenchConfig): string {
  const k = (n: number) => (n >= 1_000 && n % 1_000 === 0 ? `${n / 1_000}k` : String(n));
  switch (scenario) {
    case "enqueue":
      return `1. enqueue ${k(config.tasks)} (batches of ${k(config.batchSize)})`;
    case "drain":
      return `2. drain ${k(config.tasks)} backlog (concurrency ${config.concurrency})`;
    case "mixed":
      return `3. produce + consume ${k(config.mixedTasks)} at once`;
  }
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

function throughput(cell: Cell | undefined): string {
  if (!cell) return "—";
  if (!cell.ok) return cell.reason;
  return `${int.format((cell.tasks * 1_000) / cell.elapsedMs)}/s`;
}

function rssMiB(cell: Cell | undefined): string {
  if (!cell) return "—";
  if (!cell.ok) return cell.reason;
  return `${int.format(cell.peakRssBytes / 1_048_576)} MiB`;
}

function ratio(
  a: Cell | undefined,
  b: Cell | undefined,
  metric: (c: Cell & { ok: true }) => number,
): string {
  if (!a?.ok || !b?.ok) return "—";
  return `${(metric(a) / metric(b)).toFixed(2)}×`;
}

const rate = (c: Cell & { ok: true }) => c.tasks / c.elapsedMs;
const rss = (c: Cell & { ok: true }) => c.peakRssBytes;

/** A markdown table with padded columns, as `biome format` writes it (so `npm run lint` passes). */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) =>
    Math.max(3, h.length, ...rows.map((r) => (r[i] ?? "").length)),
  );
  const line = (cells: string[]) =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

const GOTASKQ = ["gotaskq-tracking", "gotaskq-no-tracking"] as const;

/** Header and per-row cells of one backend's table, with GoTaskQ / BullMQ and GoTaskQ / raw. */
function backendTable(
  results: Results,
  config: BenchConfig,
  backend: BackendInfo,
  corner: string,
  rows: [string, ScenarioName][],
  show: (cell: Cell | undefined) => string,
  metric: (c: Cell & { ok: true }) => number,
): string {
  const shown = config.systems;
  const gotaskq = GOTASKQ.filter((s) => shown.includes(s));
  const references = (["bullmq", "raw"] as const).filter((s) => shown.includes(s));
  const header = [
    corner,
    ...shown.map((s) => label(s, backend)),
    ...references.flatMap((r) =>
      gotaskq.map((s) => `${label(s, backend)} / ${r === "bullmq" ? "BullMQ" : "raw"}`),
    ),
  ];
  const body = rows.map(([title, scenario]) => {
    const row = results[scenario];
    const cell = (s: SystemName) => row[cellKey(backend.name, s)];
    return [
      title,
      ...shown.map((s) => show(cell(s))),
      ...references.flatMap((r) => gotaskq.map((s) => ratio(cell(s), cell(r), metric))),
    ];
  });
  return table(header, body);
}

const RSS_ROWS: [string, ScenarioName][] = [
  ["producer, scenario 1", "enqueue"],
  ["worker, scenario 2 (backlog waiting)", "drain"],
  ["worker, scenario 3", "mixed"],
];

function targetLine(results: Results, config: BenchConfig): string | undefined {
  const limit = 150 * 1_048_576;
  const checks = GOTASKQ.filter((s) => config.systems.includes(s)).map((s) => {
    const cell = results.drain[cellKey("sqlite", s)];
    const name = s === "gotaskq-tracking" ? "tracking on" : "tracking off";
    if (!cell?.ok) return `${name}: not measured`;
    const verdict = cell.peakRssBytes < limit ? "met" : "MISSED";
    return `${name} ${rssMiB(cell)} → ${verdict}`;
  });
  if (checks.length === 0) return undefined;
  const size =
    config.tasks >= 100_000
      ? ""
      : ` (this run's backlog is only ${config.tasks}; the target is stated for 100k)`;
  return `Target "worker RSS under 150 MB while a backlog of 100k waits" (embedded broker)${size}: ${checks.join("; ")}.`;
}

function backendSection(results: Results, config: BenchConfig, backend: BackendInfo): string[] {
  if (!backend.measured)
    return [`## ${backend.title}`, "", `Not measured: ${backend.describe}.`, ""];
  const scenarioRows = SCENARIOS.map((s): [string, ScenarioName] => [scenarioTitle(s, config), s]);
  const target = backend.name === "sqlite" ? targetLine(results, config) : undefined;
  return [
    `## ${backend.title}`,
    "",
    backend.describe,
    "",
    "Throughput (tasks/s, higher is better):",
    "",
    backendTable(results, config, backend, "scenario", scenarioRows, throughput, rate),
    "",
    "Peak RSS (lower is better):",
    "",
    backendTable(results, config, backend, "peak RSS of", RSS_ROWS, rssMiB, rss),
    "",
    ...(target ? [target, ""] : []),
  ];
}

function detailNotes(results: Results): string[] {
  const notes: string[] = [];
  for (const scenario of SCENARIOS) {
    for (const [key, cell] of Object.entries(results[scenario])) {
      if (!cell?.ok || Object.keys(cell.details).length === 0) continue;
      const parts = Object.entries(cell.details).map(
        ([k, v]) => `${k} ${typeof v === "number" ? decimal.format(v) : v}`,
      );
      notes.push(`- ${scenario}, ${key}: ${parts.join(", ")}`);
    }
  }
  return notes;
}

function queueSections(results: Results, config: BenchConfig, machine: MachineInfo): string[] {
  const details = detailNotes(results);
  const measured = machine.backends.filter((b) => b.measured);
  return [
    `No-op tasks, payload {"n":i}, worker concurrency ${config.concurrency}, publish batches of ${config.batchSize}; every producer and worker is its own child process. One table per broker backend; BullMQ (${machine.redis}) is measured once per scenario and shown in every table.`,
    "",
    ...machine.backends.flatMap((b) => backendSection(results, config, b)),
    "## How to read it",
    "",
    "- Ratios above 1× mean GoTaskQ is faster (throughput) or uses more memory (RSS) than the reference: BullMQ, or the backend's raw ceiling (the same client library used directly, as an expert would, with no GoTaskQ code; GoTaskQ / raw is the share of the ceiling GoTaskQ reaches).",
    "- 1: time for the producer to submit every batch, each awaited until durable. 2: time from the worker's start until the last of the backlog is acknowledged. 3: time from starting producer and worker together until the last task is acknowledged.",
    "- Tracking on = the backend's tracking store (SQLite unless the table says otherwise) behind the BestEffortWriter, producer and worker both recording events; tracking off = `noTracking`.",
    ...measured.map((b) => `- ${b.rawLabel}: ${b.rawDescription}`),
    "- Peak RSS is `process.resourceUsage().maxRSS` of the child process; the details give its peak V8 heap (largest `heapTotal`, sampled every 100 ms), the rest being code, native memory (SQLite, buffers) and Node itself.",
    "- Durability differs between backends: each table's first line says what its server persists. Servers (Redis, RabbitMQ, the SQS emulator) run as their own processes, so their storage work runs on another core, while the embedded broker's runs on the worker's own thread.",
    "- The machine is shared: compare the load averages in the header before comparing two reports. \"CPU per task\" (the child's user + system CPU during the measured work, divided by its tasks) barely depends on other load; it excludes the servers' own CPU.",
    ...(details.length > 0 ? ["", "## Details", "", ...details] : []),
    "",
  ];
}

/**
 * The whole report. `results` is absent when the queue phase did not run (`BENCH_API=only`,
 * `BENCH_PRODUCT=only`); `productSection` (bench/product-report.ts) leads when the product phase
 * ran, `apiSection` (bench/api-report.ts) is appended when the API phase ran.
 */
export function renderReport(
  results: Results | undefined,
  config: BenchConfig,
  machine: MachineInfo,
  sections: { productSection?: string; apiSection?: string } = {},
): string {
  const { productSection, apiSection } = sections;
  return [
    `# GoTaskQ benchmark — ${machine.date}`,
    "",
    `Node ${machine.node} · ${machine.cpus} CPUs (${machine.cpuModel}) · ${machine.memoryGiB} GiB RAM · load average ${machine.loadAtStart.map((l) => l.toFixed(2)).join(" ")} at start, ${machine.loadAtEnd.map((l) => l.toFixed(2)).join(" ")} at end`,
    `GoTaskQ ${machine.gotaskqVersion} · BullMQ ${machine.bullmqVersion} on ${machine.redis}`,
    ...(productSection ? ["", productSection] : []),
    ...(results
      ? [
          ...(productSection ? ["## The library in child processes", ""] : []),
          ...queueSections(results, config, machine),
        ]
      : [""]),
    ...(apiSection ? [apiSection] : []),
  ].join("\n");
}

import type { BenchConfig, SystemName } from "./config.js";

// Turns measured cells into the markdown report: one throughput table, one peak-RSS table, the
// ratios GoTaskQ / BullMQ, the machine, and the notes a reader needs to judge the numbers.

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

export type Results = Record<ScenarioName, Partial<Record<SystemName, Cell>>>;

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
}

const LABELS: Record<SystemName, string> = {
  "gotaskq-tracking": "GoTaskQ, tracking on",
  "gotaskq-no-tracking": "GoTaskQ, tracking off",
  bullmq: "BullMQ",
  "raw-sqlite": "raw SQLite ceiling",
};

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

function throughputTable(results: Results, config: BenchConfig): string {
  const shown = config.systems;
  const header = ["scenario", ...shown.map((s) => LABELS[s])];
  const withBull = shown.includes("bullmq");
  const gotaskq = shown.filter((s) => s.startsWith("gotaskq"));
  if (withBull) header.push(...gotaskq.map((s) => `${LABELS[s]} / BullMQ`));
  const rows = SCENARIOS.map((scenario) => {
    const row = results[scenario];
    return [
      scenarioTitle(scenario, config),
      ...shown.map((s) => throughput(row[s])),
      ...(withBull ? gotaskq.map((s) => ratio(row[s], row.bullmq, rate)) : []),
    ];
  });
  return table(header, rows);
}

function rssTable(results: Results, config: BenchConfig): string {
  const shown = config.systems;
  const header = ["peak RSS of", ...shown.map((s) => LABELS[s])];
  const withBull = shown.includes("bullmq");
  const gotaskq = shown.filter((s) => s.startsWith("gotaskq"));
  if (withBull) header.push(...gotaskq.map((s) => `${LABELS[s]} / BullMQ`));
  const rows: [string, ScenarioName][] = [
    ["producer, scenario 1", "enqueue"],
    ["worker, scenario 2 (backlog waiting)", "drain"],
    ["worker, scenario 3", "mixed"],
  ];
  return table(
    header,
    rows.map(([label, scenario]) => {
      const row = results[scenario];
      return [
        label,
        ...shown.map((s) => rssMiB(row[s])),
        ...(withBull ? gotaskq.map((s) => ratio(row[s], row.bullmq, rss)) : []),
      ];
    }),
  );
}

function targetLine(results: Results, config: BenchConfig): string | undefined {
  const limit = 150 * 1_048_576;
  const checks = (["gotaskq-tracking", "gotaskq-no-tracking"] as const)
    .filter((s) => config.systems.includes(s))
    .map((s) => {
      const cell = results.drain[s];
      if (!cell?.ok) return `${LABELS[s]}: not measured`;
      const verdict = cell.peakRssBytes < limit ? "met" : "MISSED";
      return `${LABELS[s]} ${rssMiB(cell)} → ${verdict}`;
    });
  if (checks.length === 0) return undefined;
  const size =
    config.tasks >= 100_000
      ? ""
      : ` (this run's backlog is only ${config.tasks}; the target is stated for 100k)`;
  return `Target "worker RSS under 150 MB while a backlog of 100k waits"${size}: ${checks.join("; ")}.`;
}

function detailNotes(results: Results): string[] {
  const notes: string[] = [];
  for (const scenario of SCENARIOS) {
    for (const [system, cell] of Object.entries(results[scenario])) {
      if (!cell?.ok || Object.keys(cell.details).length === 0) continue;
      const parts = Object.entries(cell.details).map(
        ([k, v]) => `${k} ${typeof v === "number" ? decimal.format(v) : v}`,
      );
      notes.push(`- ${scenario}, ${LABELS[system as SystemName]}: ${parts.join(", ")}`);
    }
  }
  return notes;
}

function queueSections(results: Results, config: BenchConfig): string[] {
  const details = detailNotes(results);
  return [
    `No-op tasks, payload {"n":i}, worker concurrency ${config.concurrency}, publish batches of ${config.batchSize}; every producer and worker is its own child process.`,
    "",
    "## Throughput (tasks/s, higher is better)",
    "",
    throughputTable(results, config),
    "",
    "## Peak RSS (lower is better)",
    "",
    rssTable(results, config),
    "",
    ...[targetLine(results, config)].flatMap((line) => (line ? [line, ""] : [])),
    "## How to read it",
    "",
    "- Ratios are GoTaskQ / BullMQ: above 1× GoTaskQ is faster (throughput) or uses more memory (RSS).",
    "- 1: time for the producer to submit every batch, each awaited until durable. 2: time from the worker's start until the last of the backlog is acknowledged. 3: time from starting producer and worker together until the last task is acknowledged.",
    "- Tracking on = SQLite tracking store behind the BestEffortWriter (producer and worker both record events); tracking off = `noTracking`.",
    "- The raw SQLite ceiling is better-sqlite3 used directly for the same work (batched inserts, claim-with-lease UPDATE … RETURNING, grouped DELETE acks), same pragmas and message bytes: the limit of the embedded broker itself.",
    "- Peak RSS is `process.resourceUsage().maxRSS` of the child process; the details give its peak V8 heap (largest `heapTotal`, sampled every 100 ms), the rest being code, native memory (SQLite, buffers) and Node itself.",
    "- Durability differs: the SQLite broker (and the raw ceiling) writes every commit to its WAL (synchronous=NORMAL, fsync at checkpoints); Redis persists what its settings in the header say. Redis also runs as its own process, so BullMQ's storage work runs on another core, while SQLite's runs on the worker's own thread.",
    "- The machine is shared: compare the load averages in the header before comparing two reports. \"CPU per task\" (the child's user + system CPU during the measured work, divided by its tasks) barely depends on other load; for BullMQ it excludes the Redis server's own CPU.",
    ...(details.length > 0 ? ["", "## Details", "", ...details] : []),
    "",
  ];
}

/**
 * The whole report. `results` is absent when only the API phase ran (`BENCH_API=only`);
 * `apiSection` (bench/api-report.ts) is appended when the API phase ran.
 */
export function renderReport(
  results: Results | undefined,
  config: BenchConfig,
  machine: MachineInfo,
  apiSection?: string,
): string {
  return [
    `# GoTaskQ benchmark — ${machine.date}`,
    "",
    `Node ${machine.node} · ${machine.cpus} CPUs (${machine.cpuModel}) · ${machine.memoryGiB} GiB RAM · load average ${machine.loadAtStart.map((l) => l.toFixed(2)).join(" ")} at start, ${machine.loadAtEnd.map((l) => l.toFixed(2)).join(" ")} at end`,
    `GoTaskQ ${machine.gotaskqVersion} on the embedded SQLite broker · BullMQ ${machine.bullmqVersion} on ${machine.redis}`,
    ...(results ? queueSections(results, config) : [""]),
    ...(apiSection ? [apiSection] : []),
  ].join("\n");
}

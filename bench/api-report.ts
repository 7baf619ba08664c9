import type { ApiCell, ApiCellName, ApiResults } from "./api-phase.js";
import type { ApiLoadConfig } from "./config.js";
import { table } from "./report.js";

// The API section of the report: one row per cell (rate, latency, the server child's CPU per task
// and peak RSS), then the figures issue 3 asks for as ratios against the bare references, each
// also computed from server CPU per task, which a noisy shared machine disturbs far less.

type Ok = ApiCell & { ok: true };

const LABELS: Record<ApiCellName, string> = {
  "rest-submit": "REST POST /v1/tasks (GoTaskQ)",
  "rest-hello": "REST hello-world (bare Fastify)",
  "rest-batch": "REST POST /v1/tasks/batch (GoTaskQ)",
  "rest-hello-batch": "REST hello-world, same batch body (bare Fastify)",
  "grpc-submit": "gRPC SubmitTask (GoTaskQ)",
  "grpc-stub": "gRPC SubmitTask stub (bare grpc-js)",
};

/** Row order: each GoTaskQ cell above its reference. */
const ROWS: ApiCellName[] = [
  "rest-submit",
  "rest-hello",
  "rest-batch",
  "rest-hello-batch",
  "grpc-submit",
  "grpc-stub",
];

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const ms = (v: number) => `${v < 10 ? v.toFixed(1) : int.format(v)} ms`;

const requestRate = (c: Ok) => c.load.ok / c.load.durationS;
const taskRate = (c: Ok) => requestRate(c) * c.tasksPerRequest;
function cpuPerTask(c: Ok): number | undefined {
  const v = c.server.details["CPU per task (µs)"];
  return typeof v === "number" && v > 0 ? v : undefined;
}

function rateText(c: Ok): string {
  return c.tasksPerRequest === 1
    ? `${int.format(requestRate(c))} req/s`
    : `${int.format(taskRate(c))} tasks/s (${int.format(requestRate(c))} req/s)`;
}

function loadText(name: ApiCellName, c: Ok, config: ApiLoadConfig): string {
  const batch = c.tasksPerRequest > 1 ? `, ${int.format(config.batchSize)} tasks per request` : "";
  return name.startsWith("grpc")
    ? `${c.concurrency} calls in flight`
    : `${c.concurrency} connections${batch}`;
}

function cellsTable(results: ApiResults, config: ApiLoadConfig): string {
  const header = [
    "measurement",
    "load",
    "rate",
    "p50",
    "p99",
    "server CPU per task",
    "server peak RSS",
    "load generator CPU",
  ];
  const rows = ROWS.filter((name) => results[name]).map((name) => {
    const c = results[name];
    if (!c?.ok) return [LABELS[name], "", c?.reason ?? "—", "", "", "", "", ""];
    const cpu = cpuPerTask(c);
    return [
      LABELS[name],
      loadText(name, c, config),
      rateText(c),
      ms(c.load.p50Ms),
      ms(c.load.p99Ms),
      cpu === undefined ? "—" : `${cpu.toFixed(1)} µs`,
      `${int.format(c.server.peakRssBytes / 1_048_576)} MiB`,
      `${int.format(c.load.clientCpuPct)}% of a core`,
    ];
  });
  return table(header, rows);
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

function ratioRow(
  results: ApiResults,
  label: string,
  a: ApiCellName,
  b: ApiCellName,
  target?: number,
): string[] {
  const x = results[a];
  const y = results[b];
  if (!x?.ok || !y?.ok) return [label, "not measured", "—", target ? `≥ ${pct(target)}` : "—"];
  const measured = taskRate(x) / taskRate(y);
  const cx = cpuPerTask(x);
  const cy = cpuPerTask(y);
  const byCpu = cx !== undefined && cy !== undefined ? pct(cy / cx) : "—";
  const verdict = target ? `≥ ${pct(target)}: ${measured >= target ? "met" : "MISSED"}` : "—";
  return [label, pct(measured), byCpu, verdict];
}

function figuresTable(results: ApiResults, config: ApiLoadConfig): string {
  const batch = results["rest-batch"];
  const batchTarget = 20_000;
  const batchRow = batch?.ok
    ? [
        `REST batch of ${int.format(config.batchSize)}, tasks/s`,
        int.format(taskRate(batch)),
        "—",
        `≥ ${int.format(batchTarget)}: ${taskRate(batch) >= batchTarget ? "met" : "MISSED"}`,
      ]
    : ["REST batch, tasks/s", "not measured", "—", `≥ ${int.format(batchTarget)}`];
  return table(
    ["figure", "measured", "from server CPU per task", "target"],
    [
      ratioRow(
        results,
        "REST single submit / Fastify hello-world",
        "rest-submit",
        "rest-hello",
        0.4,
      ),
      batchRow,
      ratioRow(
        results,
        "REST batch / Fastify hello-world with the same body (tasks/s)",
        "rest-batch",
        "rest-hello-batch",
      ),
      ratioRow(results, "gRPC SubmitTask / grpc-js stub", "grpc-submit", "grpc-stub"),
      ratioRow(results, "gRPC SubmitTask / Fastify hello-world", "grpc-submit", "rest-hello"),
      ratioRow(results, "gRPC SubmitTask / REST single submit", "grpc-submit", "rest-submit"),
    ],
  );
}

const decimal = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

function detailNotes(results: ApiResults): string[] {
  return ROWS.flatMap((name) => {
    const c = results[name];
    if (!c?.ok) return [];
    const parts = Object.entries(c.server.details).map(
      ([k, v]) => `${k} ${typeof v === "number" ? decimal.format(v) : v}`,
    );
    const tasks = `tasks in the window ${int.format(c.server.count)} (client saw ${int.format(c.load.ok * c.tasksPerRequest)})`;
    return [`- ${LABELS[name]}: ${[tasks, ...parts].join(", ")}`];
  });
}

export function renderApiSection(results: ApiResults, config: ApiLoadConfig): string {
  return [
    "## API submission (REST and gRPC, embedded SQLite broker, tracking on)",
    "",
    cellsTable(results, config),
    "",
    figuresTable(results, config),
    "",
    "### How to read it",
    "",
    `- Each server runs alone in its own child process; the load generator (autocannon for REST, a grpc-js client built from proto/gotaskq/v1/tasks.proto for gRPC) runs in the orchestrator. Each cell: ${config.warmupS} s warm-up, then ${config.durationS} s measured. Closed loop: every connection (or gRPC slot) sends its next request when the previous one is answered.`,
    '- GoTaskQ: TaskService over a fresh embedded SQLite broker, SQLite tracking behind the BestEffortWriter, a registry knowing `bench.noop`, API-key auth, and the rate limiter set far above the load, as `gotaskq dev` wires them; silent logger. Body `{"function_key":"bench.noop","queue":"bench","payload":{"n":1}}`; a 202 means the broker holds the task durably.',
    "- Bare references get the same requests (same bytes, same headers) and answer at once with a fixed document: Fastify without logger, schema or auth; grpc-js with SubmitTask returning a fixed SubmittedTask.",
    '- Ratios are GoTaskQ / reference throughput in tasks/s. "From server CPU per task" is reference CPU per task / GoTaskQ CPU per task: the ratio both would reach if each had a core to itself; the machine\'s two cores are shared by server, load generator and anything else, so trust this column more when the two disagree.',
    "- Load generator CPU is the orchestrator's CPU time over the window, in % of one core: near 100% the client, not the server, set the rate (grpc-js's client costs about as much per call as its server), which is why the CPU-per-task ratios are given too.",
    "- p50/p99 are client-side latencies at this closed-loop load (mostly queueing: latency ≈ concurrency / rate).",
    "",
    "### API details",
    "",
    ...detailNotes(results),
    "",
  ].join("\n");
}

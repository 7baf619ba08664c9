import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { BenchBackend } from "./backends/backend.js";
import { CLI_MAIN, type RunningProcess, startProcess } from "./cli-process.js";
import type { ProductConfig, ProductScenario, ProductTracking } from "./config.js";
import { appHandle } from "./product-app-ipc.js";
import type { BullAppSpec } from "./product-bullmq-app.js";
import { type RestLoad, restLoad, restQueueCounts } from "./product-clients.js";
import { type CellContext, type ProductCell, startInOrder, timeCell } from "./product-timing.js";

// The process layout of each product cell: which processes start, in which order, with which
// environment, in a fresh folder (the cell's working directory, so the CLI's default `.gotaskq/`
// paths land there), and how its tasks are submitted and its queue watched. A GoTaskQ cell runs
// the built CLI; a BullMQ cell runs bench/product-bullmq-app.ts in the same layout. Timing and
// stopping are bench/product-timing.ts.

const READY_TIMEOUT_MS = 60_000;

/** The load a scenario puts on the product, shared by GoTaskQ and BullMQ cells. */
export function loadOf(scenario: ProductScenario, config: ProductConfig): RestLoad {
  if (scenario === "dev-batches-4-clients") return { kind: "batches", clients: 4 };
  if (scenario === "dev-singles") return { kind: "singles", inFlight: config.connections };
  return { kind: "batches", clients: 1 };
}

function workersOf(scenario: ProductScenario): number {
  if (scenario === "server-2-workers") return 2;
  return scenario === "server-1-worker" || scenario === "library-producer" ? 1 : 0;
}

/** The environment a user's shell would give: theirs, minus any GOTASKQ_* of the bench's own. */
function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("GOTASKQ_")) env[name] = value;
  }
  return env;
}

interface GoTaskQUrls {
  /** undefined: the CLI's default (`sqlite://.gotaskq/broker.db` in the working directory). */
  brokerUrl?: string;
  /** undefined: the CLI's default SQLite file; `none`: tracking off. */
  trackingUrl?: string;
}

function urlsOf(backend: BenchBackend, tracking: ProductTracking, ctx: CellContext): GoTaskQUrls {
  const brokerUrl = backend.name === "sqlite" ? undefined : backend.brokerUrl(ctx.scope, ctx.dir);
  const trackingUrl =
    tracking === "off"
      ? "none"
      : tracking === "on"
        ? backend.trackingUrl?.(ctx.scope, ctx.dir)
        : undefined;
  return {
    ...(brokerUrl !== undefined ? { brokerUrl } : {}),
    ...(trackingUrl !== undefined ? { trackingUrl } : {}),
  };
}

function gotaskqEnv(
  scenario: ProductScenario,
  urls: GoTaskQUrls,
  ctx: CellContext,
): Record<string, string> {
  return {
    ...baseEnv(),
    // Any free port: other processes on this machine may hold 8080 and 50051.
    GOTASKQ_HTTP_PORT: "0",
    GOTASKQ_GRPC_PORT: "0",
    GOTASKQ_API_KEYS: ctx.apiKey,
    GOTASKQ_CONCURRENCY: String(ctx.config.concurrency),
    ...(urls.brokerUrl ? { GOTASKQ_BROKER_URL: urls.brokerUrl } : {}),
    ...(urls.trackingUrl ? { GOTASKQ_TRACKING_URL: urls.trackingUrl } : {}),
    // The default 2,000 requests/s per key would be all that single submissions measure.
    ...(scenario === "dev-singles"
      ? { GOTASKQ_RATE_LIMIT_PER_SECOND: "1000000", GOTASKQ_RATE_LIMIT_BURST: "1000000" }
      : {}),
  };
}

function startCli(
  ctx: CellContext,
  label: string,
  args: string[],
  banner: RegExp,
  env: Record<string, string>,
) {
  return () =>
    startProcess({
      label,
      args: [CLI_MAIN, ...args],
      cwd: ctx.dir,
      env,
      banner,
      readyTimeoutMs: READY_TIMEOUT_MS,
    });
}

/** A user's task module for `gotaskq worker --tasks`: the dev server's `demo.echo`, as a plain object. */
function writeTaskModule(dir: string): string {
  const file = path.join(dir, "tasks.mjs");
  writeFileSync(file, 'export default { "demo.echo": (payload) => payload };\n');
  return file;
}

export async function runGoTaskQCell(
  ctx: CellContext,
  scenario: ProductScenario,
  backend: BenchBackend,
  tracking: ProductTracking,
): Promise<ProductCell> {
  if (!existsSync(CLI_MAIN)) {
    return { ok: false, reason: `${CLI_MAIN} missing: run npm run build:cli first` };
  }
  mkdirSync(ctx.dir, { recursive: true });
  const urls = urlsOf(backend, tracking, ctx);
  const env = gotaskqEnv(scenario, urls, ctx);
  const workerBanner = /GoTaskQ worker \(pid (\d+)\)/;
  const tasksModule = writeTaskModule(ctx.dir);
  const starts: (() => Promise<RunningProcess>)[] = [];
  if (scenario.startsWith("dev-")) {
    starts.push(startCli(ctx, "dev", ["dev"], /REST:\s+(http:\/\/\S+)/, env));
  } else if (scenario.startsWith("server-")) {
    starts.push(startCli(ctx, "server", ["server"], /REST (http:\/\/[^,\s]+),/, env));
  }
  for (let n = 1; n <= workersOf(scenario); n++) {
    starts.push(
      startCli(ctx, `worker-${n}`, ["worker", "--tasks", tasksModule], workerBanner, env),
    );
  }
  if (scenario === "library-producer") {
    const spec = {
      brokerUrl: urls.brokerUrl ?? "sqlite://.gotaskq/broker.db",
      trackingUrl: urls.trackingUrl ?? "sqlite://.gotaskq/tracking.db",
      tasks: ctx.config.tasks,
    };
    starts.push(() =>
      startProcess({
        label: "user-producer",
        args: [new URL("./product-library-app.js", import.meta.url).pathname, JSON.stringify(spec)],
        cwd: ctx.dir,
        env: baseEnv(),
        readyTimeoutMs: READY_TIMEOUT_MS,
      }),
    );
  }
  const processes = await startInOrder(starts);
  const front = processes[0];
  const app = processes.at(-1);
  if (scenario === "library-producer" && app) {
    const handle = appHandle(app);
    return timeCell(ctx, processes, () => ({
      submit: () => handle.go().submitted,
      counts: () => handle.counts(),
    }));
  }
  const baseUrl = front?.banner[1];
  if (!baseUrl) {
    await Promise.all(processes.map((p) => p.stop(5_000)));
    return { ok: false, reason: "the server's banner did not name its REST URL" };
  }
  const load = restLoad(baseUrl, ctx.apiKey, ctx.config.tasks, loadOf(scenario, ctx.config));
  return timeCell(ctx, processes, () => ({
    submit: () => load.run(),
    counts: () => restQueueCounts(baseUrl, ctx.apiKey),
  }));
}

export interface BullContext extends CellContext {
  redisUrl: string;
  prefix: string;
  queue: string;
}

/** BullMQ in the scenario's process layout: one app for dev-*, producer + workers otherwise. */
export async function runBullCell(
  ctx: BullContext,
  scenario: ProductScenario,
): Promise<ProductCell> {
  mkdirSync(ctx.dir, { recursive: true });
  const script = new URL("./product-bullmq-app.js", import.meta.url).pathname;
  const spec = (role: BullAppSpec["role"]): BullAppSpec => ({
    role,
    redisUrl: ctx.redisUrl,
    prefix: ctx.prefix,
    queue: ctx.queue,
    tasks: ctx.config.tasks,
    concurrency: ctx.config.concurrency,
    load: loadOf(scenario, ctx.config),
  });
  const start = (label: string, role: BullAppSpec["role"]) => () =>
    startProcess({
      label,
      args: [script, JSON.stringify(spec(role))],
      cwd: ctx.dir,
      env: baseEnv(),
      readyTimeoutMs: READY_TIMEOUT_MS,
    });
  const workers = workersOf(scenario);
  const starts =
    workers === 0
      ? [start("bullmq-app", "app")]
      : [
          ...Array.from({ length: workers }, (_, n) => start(`bullmq-worker-${n + 1}`, "worker")),
          start("bullmq-producer", "producer"),
        ];
  const processes = await startInOrder(starts);
  const producer = processes.at(-1);
  if (!producer) return { ok: false, reason: "no BullMQ process started" };
  const handle = appHandle(producer);
  return timeCell(ctx, processes, () => ({
    submit: () => handle.go().submitted,
    counts: () => handle.counts(),
  }));
}

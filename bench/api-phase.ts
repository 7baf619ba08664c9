import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { grpcLoad, httpLoad, type LoadResult } from "./api-load.js";
import type { SubmitTaskRequest } from "./api-proto.js";
import type { ApiCellName, ApiLoadConfig } from "./config.js";
import type { ApiServerKind, ChildReport, ChildSpec } from "./protocol.js";
import { type RunningChild, startChild } from "./spawn-child.js";

// The API phase of `npm run bench` (issue 3): GoTaskQ's REST and gRPC submission measured beside
// bare references in the same run. Every cell starts its server in a fresh child (fresh SQLite
// files for GoTaskQ), loads it for `warmupS` unmeasured, then opens the measured window (`go`
// starts the child's CPU clock), loads it for `durationS` and closes the window (`stop`). The
// load generator runs here, in the orchestrator, so it never shares the server's event loop.
// Cells alternate reference / GoTaskQ and every round runs all cells once, so a burst of load from
// elsewhere on a shared machine hits one measurement rather than one whole side.

export type { ApiCellName };

export type ApiCell =
  | {
      ok: true;
      load: LoadResult;
      /** Tasks per successful request (1, or the batch size). */
      tasksPerRequest: number;
      /** Connections (REST) or calls in flight (gRPC). */
      concurrency: number;
      /** The server child's own report: tasks it handled in the window, CPU, RSS. */
      server: ChildReport;
    }
  | { ok: false; reason: string };

/** Every round's measurement of each cell, in round order. */
export type ApiResults = Partial<Record<ApiCellName, ApiCell[]>>;

export interface ApiPhaseContext {
  load: ApiLoadConfig;
  /** The Redis the `rest-batch-idem-redis` cell takes its idempotency keys in. */
  redisUrl: string;
  tempRoot: string;
  timeoutMs: number;
  cpuProfileDir?: string;
}

/** The bench's task: a no-op, the same bytes as the queue scenarios' payload. */
const FUNCTION_KEY = "bench.noop";
export const API_QUEUE = "bench";
/** The largest body the servers accept; a batch of 1,000 small tasks is about 60 KiB. */
const BODY_LIMIT_BYTES = 1_048_576;

function singleBody(): string {
  return JSON.stringify({ function_key: FUNCTION_KEY, queue: API_QUEUE, payload: { n: 1 } });
}

function batchBody(size: number): string {
  const tasks = Array.from({ length: size }, (_, n) => ({
    function_key: FUNCTION_KEY,
    queue: API_QUEUE,
    payload: { n },
  }));
  return JSON.stringify({ tasks });
}

/**
 * Batch bodies whose every task carries an idempotency key never used before (a client's retry
 * token, as users send them): each key is taken, none is a duplicate. Keys live 10 minutes, so a
 * run leaves nothing behind in a shared Redis for long.
 */
function keyedBatchBodies(size: number): () => string {
  const run = randomBytes(6).toString("base64url");
  let next = 0;
  return () => {
    const tasks = Array.from({ length: size }, (_, n) => ({
      function_key: FUNCTION_KEY,
      queue: API_QUEUE,
      payload: { n },
      idempotency_key: `bench-${run}-${next++}`,
      idempotency_ttl_ms: 600_000,
    }));
    return JSON.stringify({ tasks });
  };
}

const GRPC_REQUEST: SubmitTaskRequest = {
  function_key: FUNCTION_KEY,
  queue: API_QUEUE,
  payload_json: JSON.stringify({ n: 1 }),
};

interface CellPlan {
  server: ApiServerKind;
  /** One load of `durationS` seconds against the child's endpoint. */
  drive(endpoint: string, durationS: number): Promise<LoadResult>;
  tasksPerRequest: number;
  concurrency: number;
}

function planOf(name: ApiCellName, load: ApiLoadConfig, apiKey: string): CellPlan {
  if (name === "grpc-stub" || name === "grpc-submit") {
    const inFlight = load.grpcInFlight;
    return {
      server: name === "grpc-stub" ? "grpc-stub" : "gotaskq-grpc",
      drive: (address, durationS) =>
        grpcLoad({ address, apiKey, request: GRPC_REQUEST, inFlight, durationS }),
      tasksPerRequest: 1,
      concurrency: inFlight,
    };
  }
  const keyed = name === "rest-batch-idem" || name === "rest-batch-idem-redis";
  const batch = keyed || name === "rest-batch" || name === "rest-hello-batch";
  const route = batch ? "/v1/tasks/batch" : "/v1/tasks";
  const body = keyed
    ? keyedBatchBodies(load.batchSize)
    : batch
      ? batchBody(load.batchSize)
      : singleBody();
  const connections = batch ? load.batchConnections : load.connections;
  return {
    server: name.startsWith("rest-hello") ? "fastify-hello" : "gotaskq-rest",
    drive: (url, durationS) =>
      httpLoad({ url: `${url}${route}`, body, apiKey, connections, durationS }),
    tasksPerRequest: batch ? load.batchSize : 1,
    concurrency: connections,
  };
}

function execArgvFor(ctx: ApiPhaseContext, name: ApiCellName, round: number): string[] {
  const dir = ctx.cpuProfileDir;
  if (!dir) return [];
  return [
    "--cpu-prof",
    "--cpu-prof-dir",
    dir,
    "--cpu-prof-name",
    `api-${name}-${round}-server.cpuprofile`,
  ];
}

/** Warm-up, measured window, then the server's report; the child is killed on any failure. */
async function measure(
  ctx: ApiPhaseContext,
  name: ApiCellName,
  plan: CellPlan,
  child: RunningChild,
): Promise<ApiCell> {
  const endpoint = child.endpoint;
  if (!endpoint) throw new Error("the server did not say where it listens");
  const warm = await plan.drive(endpoint, ctx.load.warmupS);
  if (warm.failures) {
    child.kill();
    return { ok: false, reason: `warm-up: ${warm.failures}` };
  }
  child.go();
  const load = await plan.drive(endpoint, ctx.load.durationS);
  child.stop();
  const server = await child.done;
  if (load.failures) return { ok: false, reason: load.failures };
  // A GoTaskQ server reports how many tasks its broker holds: every acknowledged one must be there.
  const held = server.details["tasks in broker"];
  const acknowledged = (warm.ok + load.ok) * plan.tasksPerRequest;
  if (typeof held === "number" && held < acknowledged) {
    return {
      ok: false,
      reason: `${name}: ${acknowledged} tasks acknowledged, ${held} in the broker`,
    };
  }
  return {
    ok: true,
    load,
    tasksPerRequest: plan.tasksPerRequest,
    concurrency: plan.concurrency,
    server,
  };
}

/**
 * Where a keyed cell takes its keys: the embedded store `gotaskq dev` derives from a SQLite
 * broker (a file beside it), or Redis under a prefix of this run's own.
 */
function coordinationOf(
  ctx: ApiPhaseContext,
  name: ApiCellName,
  round: number,
): { coordinationUrl?: string } {
  if (name === "rest-batch-idem") {
    return {
      coordinationUrl: `sqlite://${path.join(ctx.tempRoot, `api-${name}-${round}`, "coordination.db")}`,
    };
  }
  if (name === "rest-batch-idem-redis") {
    const url = new URL(ctx.redisUrl);
    url.searchParams.set("prefix", `bench-${randomBytes(4).toString("hex")}`);
    return { coordinationUrl: url.toString() };
  }
  return {};
}

async function runCell(
  ctx: ApiPhaseContext,
  name: ApiCellName,
  apiKey: string,
  round: number,
): Promise<ApiCell> {
  const plan = planOf(name, ctx.load, apiKey);
  const dir = path.join(ctx.tempRoot, `api-${name}-${round}`);
  mkdirSync(dir, { recursive: true });
  const spec: ChildSpec = {
    role: "server",
    target: {
      system: "api",
      server: plan.server,
      dir,
      apiKey,
      bodyLimitBytes: BODY_LIMIT_BYTES,
      ...coordinationOf(ctx, name, round),
    },
    queue: API_QUEUE,
    tasks: 0,
    batchSize: ctx.load.batchSize,
    concurrency: plan.concurrency,
  };
  const child = await startChild(spec, {
    label: `api ${name}`,
    timeoutMs: ctx.timeoutMs,
    execArgv: execArgvFor(ctx, name, round),
  });
  try {
    return await measure(ctx, name, plan, child);
  } catch (error) {
    child.kill();
    throw error;
  }
}

const int = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });

export async function runApiPhase(ctx: ApiPhaseContext): Promise<ApiResults> {
  const apiKey = `gtq_bench_${randomBytes(24).toString("base64url")}`;
  const results: ApiResults = {};
  for (let round = 1; round <= ctx.load.rounds; round++) {
    for (const name of ctx.load.cells) {
      process.stderr.write(`bench: api ${name}, round ${round} of ${ctx.load.rounds}…\n`);
      const cell = await runCell(ctx, name, apiKey, round).catch(
        (error: unknown): ApiCell => ({ ok: false, reason: `failed: ${(error as Error).message}` }),
      );
      if (cell.ok) {
        const rate = cell.load.ok / cell.load.durationS;
        process.stderr.write(
          `bench:   ${int.format(rate)} req/s (${int.format(rate * cell.tasksPerRequest)} tasks/s), p99 ${cell.load.p99Ms.toFixed(1)} ms\n`,
        );
      } else {
        process.stderr.write(`bench:   ${cell.reason}\n`);
      }
      results[name] = [...(results[name] ?? []), cell];
      // Let the previous child's exit and the file system settle before the next cell.
      await sleep(1_000);
    }
  }
  return results;
}

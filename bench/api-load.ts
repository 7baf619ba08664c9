import { performance } from "node:perf_hooks";
import type { MethodDefinition } from "@grpc/grpc-js";
import * as grpc from "@grpc/grpc-js";
import autocannon from "autocannon";
import { loadTaskService, type SubmitTaskRequest, submitTaskMethod } from "./api-proto.js";

// The load generators of the API phase, run in the orchestrator while the server under test runs
// in its own child: autocannon for REST (closed loop, N keep-alive connections, one request in
// flight on each), and a grpc-js client for gRPC (one channel, N unary calls in flight, each
// started as soon as the previous one on its slot answers). Both count only answers with the
// success status and report everything else as the reason the cell failed.

export interface LoadResult {
  /** Successful answers (2xx / gRPC OK) in the window. */
  ok: number;
  durationS: number;
  p50Ms: number;
  p99Ms: number;
  /** The load generator's own CPU time over the window, in % of one core: near 100 it was the bottleneck. */
  clientCpuPct: number;
  /** Why some requests failed (status codes, errors), or undefined when none did. */
  failures?: string;
}

/** Runs `load` and adds the share of one core this process spent on it. */
async function withClientCpu(
  load: () => Promise<Omit<LoadResult, "clientCpuPct">>,
): Promise<LoadResult> {
  const before = process.cpuUsage();
  const result = await load();
  const cpu = process.cpuUsage(before);
  return { ...result, clientCpuPct: (100 * (cpu.user + cpu.system)) / 1e6 / result.durationS };
}

export interface HttpLoad {
  url: string;
  /** The request body, or a function making each request's own (e.g. fresh idempotency keys). */
  body: string | (() => string);
  apiKey: string;
  connections: number;
  durationS: number;
}

export function httpLoad(load: HttpLoad): Promise<LoadResult> {
  return withClientCpu(() => autocannonLoad(load));
}

async function autocannonLoad(load: HttpLoad): Promise<Omit<LoadResult, "clientCpuPct">> {
  const result = await autocannon({
    url: load.url,
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${load.apiKey}` },
    ...(typeof load.body === "string"
      ? { body: load.body }
      : {
          requests: [
            { setupRequest: (request) => ({ ...request, body: (load.body as () => string)() }) },
          ],
        }),
    connections: load.connections,
    duration: load.durationS,
    timeout: 30,
  });
  const problems: string[] = [];
  if (result.non2xx > 0) {
    const codes = Object.entries(result.statusCodeStats ?? {})
      .filter(([code]) => !code.startsWith("2"))
      .map(([code, { count }]) => `${count}× ${code}`);
    problems.push(`non-2xx answers: ${codes.join(", ") || result.non2xx}`);
  }
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`);
  return {
    ok: result["2xx"],
    durationS: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ...(problems.length > 0 ? { failures: problems.join("; ") } : {}),
  };
}

export interface GrpcLoad {
  /** host:port */
  address: string;
  apiKey: string;
  request: SubmitTaskRequest;
  inFlight: number;
  durationS: number;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

export async function grpcLoad(load: GrpcLoad): Promise<LoadResult> {
  const method = submitTaskMethod(loadTaskService());
  return withClientCpu(() => grpcClientLoad(load, method));
}

async function grpcClientLoad(
  load: GrpcLoad,
  method: MethodDefinition<SubmitTaskRequest, unknown>,
): Promise<Omit<LoadResult, "clientCpuPct">> {
  const client = new grpc.Client(load.address, grpc.credentials.createInsecure());
  try {
    await new Promise<void>((resolve, reject) => {
      client.waitForReady(Date.now() + 10_000, (error) => (error ? reject(error) : resolve()));
    });
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${load.apiKey}`);
    const call = () =>
      new Promise<grpc.ServiceError | null>((resolve) => {
        client.makeUnaryRequest(
          method.path,
          method.requestSerialize,
          method.responseDeserialize,
          load.request,
          metadata,
          (error) => resolve(error),
        );
      });
    const latencies: number[] = [];
    const errors = new Map<string, number>();
    const started = performance.now();
    const endAt = started + load.durationS * 1_000;
    const slot = async () => {
      while (performance.now() < endAt) {
        const t0 = performance.now();
        const error = await call();
        if (error) {
          const key = `${grpc.status[error.code] ?? error.code}: ${error.details}`;
          errors.set(key, (errors.get(key) ?? 0) + 1);
        } else {
          latencies.push(performance.now() - t0);
        }
      }
    };
    await Promise.all(Array.from({ length: load.inFlight }, slot));
    const durationS = (performance.now() - started) / 1_000;
    const sorted = Float64Array.from(latencies).sort();
    const failures = [...errors].map(([what, n]) => `${n}× ${what}`).join(", ");
    return {
      ok: latencies.length,
      durationS,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      ...(failures ? { failures } : {}),
    };
  } finally {
    client.close();
  }
}

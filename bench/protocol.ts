// What the orchestrator and a benchmark child say to each other over the IPC channel of
// `child_process.fork`. The child receives its `ChildSpec` as argv[2] (JSON), answers `ready`
// once connected and idle, starts its measured work on `go`, and ends with `done` or `failed`.
// A server (API phase) says where it listens in `ready`, serves load from the orchestrator, and
// ends its measured window on `stop`. Messages arrive as `unknown` and are decoded here, once.

export type Role = "producer" | "worker" | "server";

/**
 * The servers of the API phase: GoTaskQ's REST or gRPC API over TaskService, and the bare
 * references they are compared with (a Fastify route and a grpc-js handler that only answer).
 */
export const API_SERVERS = ["fastify-hello", "gotaskq-rest", "grpc-stub", "gotaskq-grpc"] as const;
export type ApiServerKind = (typeof API_SERVERS)[number];

/** Where a system keeps its queue for one scenario group. */
export type Target =
  /** GoTaskQ on any backend, opened by URL as the CLI does; no `trackingUrl` = `noTracking`. */
  | { system: "gotaskq"; brokerUrl: string; trackingUrl?: string }
  | { system: "bullmq"; redisUrl: string; prefix: string }
  /** A backend's raw ceiling: `bench/raw-<backend>-scenarios.ts` with the URL its backend gave. */
  | { system: "raw"; backend: string; url: string }
  | {
      system: "api";
      server: ApiServerKind;
      /** A fresh folder for the broker and tracking databases (GoTaskQ servers). */
      dir: string;
      /** The one API key the server accepts. */
      apiKey: string;
      bodyLimitBytes: number;
      /** The coordination store idempotency keys are taken in (GoTaskQ servers; default none). */
      coordinationUrl?: string;
    };

export interface ChildSpec {
  role: Role;
  target: Target;
  queue: string;
  /** Producer: tasks to submit. Worker: completions to wait for. */
  tasks: number;
  batchSize: number;
  concurrency: number;
}

export interface ChildReport {
  /** From `go` until the role's work is done (producer: last batch durable; worker: last ack). */
  elapsedMs: number;
  /** Tasks published (producer) or completed (worker). */
  count: number;
  /** `process.resourceUsage().maxRSS`, converted to bytes: the child's peak resident set. */
  peakRssBytes: number;
  /** System-specific observations (e.g. tracking events dropped), shown as report notes. */
  details: Record<string, number | string>;
}

export type ChildMessage =
  /** `endpoint`: a server's base URL (`http://127.0.0.1:port`) or gRPC address (`127.0.0.1:port`). */
  | { type: "ready"; endpoint?: string }
  | { type: "done"; report: ChildReport }
  | { type: "failed"; error: string };

export type ParentMessage = { type: "go" } | { type: "stop" };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function decodeDetails(value: unknown): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  if (!isRecord(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === "number" || typeof v === "string") out[k] = v;
  }
  return out;
}

export function decodeChildMessage(value: unknown): ChildMessage | undefined {
  if (!isRecord(value)) return undefined;
  if (value.type === "ready") {
    return typeof value.endpoint === "string"
      ? { type: "ready", endpoint: value.endpoint }
      : { type: "ready" };
  }
  if (value.type === "failed") return { type: "failed", error: String(value.error) };
  if (value.type === "done" && isRecord(value.report)) {
    const r = value.report;
    if (
      typeof r.elapsedMs !== "number" ||
      typeof r.count !== "number" ||
      typeof r.peakRssBytes !== "number"
    ) {
      return undefined;
    }
    return {
      type: "done",
      report: {
        elapsedMs: r.elapsedMs,
        count: r.count,
        peakRssBytes: r.peakRssBytes,
        details: decodeDetails(r.details),
      },
    };
  }
  return undefined;
}

export function isGo(value: unknown): value is ParentMessage {
  return isRecord(value) && value.type === "go";
}

export function isStop(value: unknown): value is ParentMessage {
  return isRecord(value) && value.type === "stop";
}

export function decodeChildSpec(raw: string | undefined): ChildSpec {
  if (raw === undefined) throw new Error("bench child: expected its ChildSpec as JSON in argv[2]");
  const spec: unknown = JSON.parse(raw);
  if (!isRecord(spec) || !isRecord(spec.target))
    throw new Error("bench child: ChildSpec is not an object");
  // The orchestrator is the only writer of this JSON; a shape check is enough.
  return spec as unknown as ChildSpec;
}

/** The payload every system carries for task `n`: same bytes, same shape. */
export interface NoopPayload {
  n: number;
}

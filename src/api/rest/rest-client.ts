import type { QueueStats } from "../../broker/broker.js";
import { type ErrorCode, GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { SubmittedTask } from "../../producer/producer.js";
import type { RequeuedTask } from "../../producer/requeue.js";
import type {
  TaskLogLine,
  TaskPage,
  TaskRecord,
  WorkerHeartbeat,
} from "../../tracking/tracking-store.js";
import type { DeadLetterView } from "../dead-letter-view.js";
import type { TaskOperations } from "../task-operations.js";
import type { FunctionView } from "../task-service.js";

// The CLI's task operations against a remote GoTaskQ server over REST (GOTASKQ_API_URL): the
// same TaskOperations the local TaskService offers, so every command works unchanged either way.
// This file is the reverse of wire.ts (REST shapes → domain types); the server validates every
// input, so a bad argument gets the server's message. A problem document becomes a GoTaskQError
// with the code the server sent (its `detail` as the message), and a server that cannot be reached
// an `unavailable` error naming the URL.

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  "invalid_argument",
  "not_found",
  "conflict",
  "idempotency_key_reused",
  "unauthenticated",
  "permission_denied",
  "resource_exhausted",
  "unavailable",
  "deadline_exceeded",
  "canceled",
  "permanent",
  "internal",
]);

/** The problem's refined codes (error-status.ts) and HTTP-level ones, back to an ErrorCode. */
const REFINED: Readonly<Record<string, ErrorCode>> = {
  content_too_large: "resource_exhausted",
  rate_limited: "resource_exhausted",
  unknown_function: "invalid_argument",
};

function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return "unauthenticated";
  if (status === 403) return "permission_denied";
  if (status === 404) return "not_found";
  if (status === 409) return "conflict";
  if (status === 413 || status === 429) return "resource_exhausted";
  if (status === 503) return "unavailable";
  if (status === 504) return "deadline_exceeded";
  if (status >= 400 && status < 500) return "invalid_argument";
  return "internal";
}

export interface RestClientOptions {
  /** Base URL of the server, e.g. `https://gotaskq.example.com` (a path prefix is kept). */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Per request; default 30 s. */
  timeoutMs?: number;
}

type Query = Record<string, unknown> | undefined;

const ms = (iso: string): number => Date.parse(iso);

export class RestTaskClient implements TaskOperations {
  readonly #base: string;
  readonly #apiKey: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: RestClientOptions) {
    let url: URL;
    try {
      url = new URL(options.baseUrl);
    } catch {
      throw new GoTaskQError(
        "invalid_argument",
        `GOTASKQ_API_URL ${JSON.stringify(options.baseUrl)} is not a URL; use e.g. http://127.0.0.1:8080`,
      );
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new GoTaskQError(
        "invalid_argument",
        `GOTASKQ_API_URL must be an http:// or https:// URL (got ${url.protocol}//…)`,
      );
    }
    this.#base = url.href.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  async submit(input: unknown): Promise<SubmittedTask> {
    return (await this.#call("POST", "/v1/tasks", { body: input })) as SubmittedTask;
  }

  async get(rawId: unknown): Promise<TaskRecord> {
    return recordOf(await this.#call("GET", `/v1/tasks/${segment(rawId)}`));
  }

  async list(query: unknown): Promise<TaskPage> {
    const page = (await this.#call("GET", "/v1/tasks", { query: query as Query })) as {
      tasks: Wire[];
      next_cursor?: string;
    };
    return {
      tasks: page.tasks.map(recordOf),
      ...(page.next_cursor !== undefined ? { nextCursor: page.next_cursor } : {}),
    };
  }

  async logs(rawId: unknown, query?: unknown): Promise<TaskLogLine[]> {
    const taskId = String(rawId);
    const answer = (await this.#call("GET", `/v1/tasks/${segment(rawId)}/logs`, {
      query: query as Query,
    })) as { lines: Array<{ attempt: number; at: string; level: string; message: string }> };
    return answer.lines.map((l) => ({
      taskId,
      attempt: l.attempt,
      at: ms(l.at),
      level: l.level as TaskLogLine["level"],
      message: l.message,
    }));
  }

  async cancel(rawId: unknown): Promise<{ id: string; status: "CANCEL_REQUESTED" }> {
    return (await this.#call("POST", `/v1/tasks/${segment(rawId)}/cancel`)) as {
      id: string;
      status: "CANCEL_REQUESTED";
    };
  }

  async requeue(rawId: unknown, options?: unknown): Promise<RequeuedTask> {
    const answer = await this.#call("POST", `/v1/tasks/${segment(rawId)}/requeue`, {
      body: options ?? {},
    });
    return requeuedOf(answer as Wire);
  }

  async queues(): Promise<QueueStats[]> {
    const answer = (await this.#call("GET", "/v1/queues")) as { queues: Wire[] };
    return answer.queues.map((q) => ({
      queue: q.queue as string,
      ready: q.ready as number,
      inFlight: q.in_flight as number,
      delayed: q.delayed as number,
      deadLettered: q.dead_lettered as number,
    }));
  }

  async deadLetters(
    rawQueue: unknown,
    query?: unknown,
  ): Promise<{ entries: DeadLetterView[]; nextCursor?: string }> {
    const page = (await this.#call("GET", `/v1/queues/${segment(rawQueue)}/dlq`, {
      query: query as Query,
    })) as { entries: DeadLetterView[]; next_cursor?: string };
    return {
      entries: page.entries,
      ...(page.next_cursor !== undefined ? { nextCursor: page.next_cursor } : {}),
    };
  }

  async requeueDeadLetters(
    rawQueue: unknown,
    selector: unknown,
  ): Promise<{ requeued: RequeuedTask[] }> {
    const answer = (await this.#call("POST", `/v1/queues/${segment(rawQueue)}/dlq/requeue`, {
      body: selector,
    })) as { requeued: Wire[] };
    return { requeued: answer.requeued.map(requeuedOf) };
  }

  async workers(): Promise<WorkerHeartbeat[]> {
    const answer = (await this.#call("GET", "/v1/workers")) as { workers: Wire[] };
    return answer.workers.map((w) => ({
      workerId: w.worker_id as string,
      host: w.host as string,
      pid: w.pid as number,
      queues: w.queues as string[],
      concurrency: w.concurrency as number,
      running: w.running as number,
      functions: w.functions as string[],
      version: w.version as string,
      startedAt: ms(w.started_at as string),
      seenAt: ms(w.seen_at as string),
      ...(typeof w.stopped_at === "string" ? { stoppedAt: ms(w.stopped_at) } : {}),
    }));
  }

  async functions(): Promise<FunctionView[]> {
    return ((await this.#call("GET", "/v1/functions")) as { functions: FunctionView[] }).functions;
  }

  /**
   * Any route of the server, with the same error translation (the schedule commands use it:
   * src/api/schedule-operations.ts). Answers the parsed JSON body.
   */
  request(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    options: { query?: Query; body?: unknown } = {},
  ): Promise<unknown> {
    return this.#call(method, path, options);
  }

  async #call(
    method: "GET" | "POST" | "PUT" | "DELETE",
    path: string,
    options: { query?: Query; body?: unknown } = {},
  ): Promise<unknown> {
    const url = new URL(`${this.#base}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value === undefined || value === null) continue;
      for (const v of Array.isArray(value) ? value : [value])
        url.searchParams.append(name, String(v));
    }
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#apiKey !== undefined) headers.authorization = `Bearer ${this.#apiKey}`;
    let body: string | undefined;
    if (method === "POST" || method === "PUT") {
      headers["content-type"] = "application/json";
      body = JSON.stringify(options.body ?? {});
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const cause = error instanceof Error ? (error.cause ?? error) : error;
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new UnavailableError(
        `cannot reach the GoTaskQ API at ${this.#base} (${reason}); check GOTASKQ_API_URL and that the server runs`,
        { cause: error },
      );
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok) return json;
    throw problemError(response.status, json, text, `${method} ${url.pathname}`);
  }
}

type Wire = Record<string, unknown>;

/** A path segment; the server validates it (an id that is not a UUID gets its 400 message). */
function segment(value: unknown): string {
  return encodeURIComponent(String(value));
}

function problemError(status: number, json: unknown, text: string, what: string): GoTaskQError {
  const problem = (typeof json === "object" && json !== null ? json : {}) as Wire;
  const sent = typeof problem.code === "string" ? problem.code : undefined;
  const code =
    sent !== undefined && CODES.has(sent)
      ? (sent as ErrorCode)
      : ((sent !== undefined ? REFINED[sent] : undefined) ?? codeOfStatus(status));
  const detail =
    typeof problem.detail === "string"
      ? problem.detail
      : `the server answered ${status} to ${what}: ${text.slice(0, 200) || "(no body)"}`;
  return new GoTaskQError(code, detail);
}

function recordOf(w: unknown): TaskRecord {
  const r = w as Wire;
  return {
    id: r.id as string,
    functionKey: r.function_key as string | null,
    queue: r.queue as string | null,
    priority: r.priority as number | null,
    payload: r.payload,
    status: r.status as TaskRecord["status"],
    run: r.run as number,
    attempt: r.attempt as number,
    maxRetries: r.max_retries as number | null,
    timeoutMs: r.timeout_ms as number | null,
    metadata: (r.metadata ?? {}) as Record<string, string>,
    idempotencyKey: r.idempotency_key as string | null,
    createdAt: r.created_at as string | null,
    startedAt: r.started_at as string | null,
    completedAt: r.completed_at as string | null,
    durationMs: r.duration_ms as number | null,
    runAt: r.run_at as string | null,
    result: r.result,
    error: r.error as TaskRecord["error"],
    workerId: r.worker_id as string | null,
    deliveryCount: r.delivery_count as number | null,
    deadLetterReason: r.dead_letter_reason as string | null,
    updatedAt: r.updated_at as string,
  };
}

function requeuedOf(w: Wire): RequeuedTask {
  return {
    id: w.id as string,
    queue: w.queue as string,
    run: w.run as number,
    source: w.source as RequeuedTask["source"],
  };
}

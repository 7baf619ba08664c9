import fs from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { UnavailableError } from "../../core/errors.js";
import type { TaskEvent, TaskLogLine } from "../tracking-store.js";
import type { WriteReply, WriteRequest, WriteThreadData } from "./sqlite-write-protocol.js";

// SQLite tracking writes off the event loop. better-sqlite3 is synchronous: on the API's thread
// every upsert of a submitted task's PENDING event was a fifth of a REST submit's time
// (bench/results/micro-measurements.md), and under batch submission the writer fell so far behind that it dropped most events. So a
// file database's events and log lines are written by a worker thread (sqlite-write-worker.ts)
// that owns its own connection; reads, heartbeats, migrations and purges stay on the main
// thread's connection (WAL lets readers run beside the writer).
//
// - One message per batch (structured clone of the whole array), one reply per message: the
//   promise of `recordEvents`/`appendLogLines` settles when the batch is committed or refused,
//   so the best-effort writer's retry and drop accounting works as with a synchronous store.
// - Refusals carry the driver's error code, so the store classifies them as before (a refused
//   batch is dropped item by item, a busy or missing file is retried).
// - A thread that dies (uncaught error, exit) or stops answering fails every batch in flight as
//   `unavailable`; the next batch starts a new thread. Nothing is thrown outside a promise.
// - The thread is started on the first write, so read-only users (CLI `status`, `list`) never pay
//   for it, and it keeps the process alive only while a batch is in flight: like the writer's
//   timer, buffered tracking must not keep a finished process running.
//
// The trade: the thread costs some RSS even idle and helps only while a core is free for it. When every core is busy it gets
// a thread's share of CPU, the event loop no longer pays for tracking (so nothing slows it down),
// and the writer falls behind and drops instead; `?write_thread=off` (connect.ts) restores the
// writes on the event loop for such machines.

/** A batch that gets no reply in this time is failed and its thread replaced. */
const REPLY_TIMEOUT_MS = 60_000;
/**
 * The thread's young generation, below V8's default (up to 48 MiB): its batches die young (each
 * is garbage once committed), so scavenges of a small one are cheap, and the thread's memory
 * stays a small part of the process's RSS.
 */
const YOUNG_GENERATION_MB = 8;
/** How long close() lets the thread finish its batches before terminating it. */
const CLOSE_TIMEOUT_MS = 10_000;

interface Pending {
  /** The thread the batch went to: only its death fails the batch. */
  worker: Worker;
  resolve(): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The worker script next to this module: the compiled `.js` under dist/, or the `.ts` source when
 * this module itself runs from source (vitest, tsx), loaded in the thread through tsx since
 * Node 20 cannot strip types.
 */
function startWorker(script: URL, data: WriteThreadData): Worker {
  const options = {
    workerData: data,
    stdout: false,
    stderr: false,
    resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB },
  };
  const path = fileURLToPath(script);
  const js = path.replace(/\.ts$/, ".js");
  if (fs.existsSync(js)) return new Worker(pathToFileURL(js), options);
  // Resolved here, where the package is known to be reachable, not from the eval'd bootstrap.
  const tsx = import.meta.resolve("tsx/esm/api");
  const bootstrap = `import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${JSON.stringify(pathToFileURL(path).href)}, ${JSON.stringify(import.meta.url)}))`;
  return new Worker(bootstrap, { ...options, eval: true });
}

/** Unserializable values (functions, symbols in a result) become what JSON would store. */
function cloneable<T>(items: readonly T[]): T[] {
  return items.map((item) => {
    try {
      return structuredClone(item);
    } catch {
      return JSON.parse(JSON.stringify(item, jsonSafe)) as T;
    }
  });
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return value.toString();
  return value;
}

export class SqliteWriteThread {
  readonly #filename: string;
  readonly #script: URL;
  readonly #replyTimeoutMs: number;
  #worker: Worker | undefined;
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();
  #closed: Promise<void> | undefined;

  /** `script` replaces the worker script and `replyTimeoutMs` the timeout (tests). */
  constructor(filename: string, options: { script?: URL; replyTimeoutMs?: number } = {}) {
    this.#filename = filename;
    this.#replyTimeoutMs = options.replyTimeoutMs ?? REPLY_TIMEOUT_MS;
    this.#script = options.script ?? new URL("./sqlite-write-worker.js", import.meta.url);
  }

  recordEvents(events: readonly TaskEvent[]): Promise<void> {
    return this.#send("events", events);
  }

  appendLogLines(lines: readonly TaskLogLine[]): Promise<void> {
    return this.#send("logs", lines);
  }

  /** Lets the thread write what it was sent, then ends it (terminates it after CLOSE_TIMEOUT_MS). */
  close(): Promise<void> {
    this.#closed ??= this.#shutDown();
    return this.#closed;
  }

  #send(kind: "events" | "logs", items: readonly (TaskEvent | TaskLogLine)[]): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new UnavailableError("tracking write thread is closed"));
    }
    let worker: Worker;
    try {
      worker = this.#ensureWorker();
    } catch (error) {
      return Promise.reject(this.#failure("could not start", error));
    }
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        // A thread stuck on one batch would hold every later one: fail what it holds and send
        // the next batches to a new thread at once, without waiting for this one to end.
        const waited = `gave no reply to a batch within ${this.#replyTimeoutMs} ms`;
        if (this.#worker === worker) this.#worker = undefined;
        this.#failAll(worker, new UnavailableError(this.#message(waited)));
        void worker.terminate();
      }, this.#replyTimeoutMs);
      this.#pending.set(id, { worker, resolve, reject, timer });
      worker.ref();
      const request = { id, kind, items } as WriteRequest;
      try {
        worker.postMessage(request);
      } catch {
        // DataCloneError: a value structured clone cannot copy. Retry with what JSON would keep.
        try {
          worker.postMessage({ id, kind, items: cloneable(items) } as WriteRequest);
        } catch (error) {
          this.#settle(id, this.#failure("could not send a batch to", error));
        }
      }
    });
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker;
    const worker = startWorker(this.#script, { filename: this.#filename });
    worker.unref();
    worker.on("message", (reply: WriteReply) => {
      if (reply.ok) this.#settle(reply.id);
      else {
        const error = Object.assign(new Error(reply.message), {
          ...(reply.code !== undefined ? { code: reply.code } : {}),
        });
        this.#settle(reply.id, error);
      }
    });
    worker.on("error", (error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(worker, this.#failure("failed", error));
    });
    worker.on("exit", (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(worker, new UnavailableError(this.#message(`exited (code ${code})`)));
    });
    this.#worker = worker;
    return worker;
  }

  #settle(id: number, error?: Error): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (error) pending.reject(error);
    else pending.resolve();
  }

  #failAll(worker: Worker, error: Error): void {
    for (const [id, pending] of [...this.#pending]) {
      if (pending.worker === worker) this.#settle(id, error);
    }
  }

  #message(what: string): string {
    return `tracking write thread for ${this.#filename} ${what}`;
  }

  #failure(what: string, error: unknown): UnavailableError {
    const reason = error instanceof Error ? error.message : String(error);
    return new UnavailableError(`${this.#message(what)}: ${reason}`, { cause: error });
  }

  async #shutDown(): Promise<void> {
    const worker = this.#worker;
    if (!worker) return;
    worker.ref();
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage({ kind: "close" } satisfies WriteRequest);
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), CLOSE_TIMEOUT_MS);
    });
    const timedOut = await Promise.race([exited.then(() => false), expired]);
    clearTimeout(timer);
    if (timedOut) await worker.terminate();
    this.#failAll(worker, new UnavailableError(this.#message("closed")));
  }
}

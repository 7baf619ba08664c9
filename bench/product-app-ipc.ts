import { performance } from "node:perf_hooks";
import type { RunningProcess } from "./cli-process.js";
import type { QueueCounts } from "./product-clients.js";

// The few messages between the orchestrator and a user's own process of the product phase (a
// BullMQ application, or a script with GoTaskQ's `Producer`). The process says `ready` once
// connected, submits everything on `go` and says `submitted`, then answers `counts` (its queue's
// counts, from its own connection, as GET /v1/queues answers them for the CLI) until the
// orchestrator stops it with SIGTERM, on which it closes what it opened and exits.

type ToApp = { type: "go" } | { type: "counts"; id: number };
type FromApp =
  | { type: "ready" }
  | { type: "submitted"; accepted: number }
  | { type: "counts"; id: number; counts: QueueCounts }
  | { type: "failed"; error: string };

export interface AppSide {
  /** Submits every task; resolves with the number accepted. Absent for a worker-only process. */
  submit?(): Promise<number>;
  counts?(): Promise<QueueCounts>;
  close(): Promise<void>;
}

function send(message: FromApp): void {
  process.send?.(message);
}

/** Runs inside the app process: the protocol around `app`. */
export function serveApp(app: AppSide): void {
  let closing = false;
  const fail = (error: unknown) => {
    send({ type: "failed", error: error instanceof Error ? error.message : String(error) });
  };
  process.on("message", (raw: unknown) => {
    const message = raw as ToApp;
    if (message.type === "go" && app.submit) {
      app.submit().then((accepted) => send({ type: "submitted", accepted }), fail);
    } else if (message.type === "counts" && app.counts) {
      app.counts().then((counts) => send({ type: "counts", id: message.id, counts }), fail);
    }
  });
  process.once("SIGTERM", () => {
    if (closing) return;
    closing = true;
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  send({ type: "ready" });
}

/** The orchestrator's side of one app process. */
export interface AppHandle {
  /** Sends `go`; resolves with `performance.now()` just before and the tasks accepted. */
  go(): { startedAt: number; submitted: Promise<number> };
  counts(): Promise<QueueCounts>;
}

export function appHandle(running: RunningProcess): AppHandle {
  const { child } = running;
  let nextId = 0;
  const waiting = new Map<number, (counts: QueueCounts) => void>();
  let onSubmitted: (accepted: number) => void = () => {};
  let onFailed: (error: Error) => void = () => {};
  const submitted = new Promise<number>((resolve, reject) => {
    onSubmitted = resolve;
    onFailed = reject;
  });
  submitted.catch(() => undefined);
  child.on("message", (raw: unknown) => {
    const message = raw as FromApp;
    if (message.type === "submitted") onSubmitted(message.accepted);
    else if (message.type === "failed") onFailed(new Error(`${running.label}: ${message.error}`));
    else if (message.type === "counts") {
      waiting.get(message.id)?.(message.counts);
      waiting.delete(message.id);
    }
  });
  return {
    go() {
      const startedAt = performance.now();
      child.send({ type: "go" } satisfies ToApp);
      return { startedAt, submitted };
    },
    counts() {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        // A process that died or hangs must not hold the cell past its own timeout.
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${running.label} did not answer counts within 10 s`));
        }, 10_000);
        waiting.set(id, (counts) => {
          clearTimeout(timer);
          resolve(counts);
        });
        child.send({ type: "counts", id } satisfies ToApp);
        submitted.catch((error: unknown) => {
          clearTimeout(timer);
          reject(error);
        });
      });
    },
  };
}

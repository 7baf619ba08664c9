import { type ChildProcess, fork } from "node:child_process";
import type { Readable } from "node:stream";
import {
  type ChildReport,
  type ChildSpec,
  decodeChildMessage,
  type ParentMessage,
} from "./protocol.js";

// Starting one benchmark child (bench/child.ts) and following its messages. Children's own
// output goes to the orchestrator's stderr, prefixed, so stdout carries only the report table.

export interface RunningChild {
  /** Where a server listens (its `ready` message), else undefined. */
  readonly endpoint: string | undefined;
  /** Starts the measured work. */
  go(): void;
  /** Ends a server's measured window; it then reports `done` and exits. */
  stop(): void;
  /** The child's report, or a rejection with the reason it failed, hung or died. */
  readonly done: Promise<ChildReport>;
  kill(): void;
}

const CHILD_SCRIPT = new URL("./child.js", import.meta.url);

function forward(stream: Readable | null, label: string): void {
  let partial = "";
  stream?.setEncoding("utf8");
  stream?.on("data", (chunk: string) => {
    const lines = (partial + chunk).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) process.stderr.write(`  [${label}] ${line}\n`);
  });
}

/** Forks a child for `spec`; resolves once it says `ready` (connected, idle, not yet timed). */
export function startChild(
  spec: ChildSpec,
  options: { label: string; timeoutMs: number; execArgv?: string[] },
): Promise<RunningChild> {
  const child: ChildProcess = fork(CHILD_SCRIPT, [JSON.stringify(spec)], {
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    execArgv: options.execArgv ?? [],
    serialization: "json",
  });
  forward(child.stdout, options.label);
  forward(child.stderr, options.label);
  return new Promise((resolveReady, rejectReady) => {
    let settled = false;
    let resolveDone: (report: ChildReport) => void = () => {};
    let rejectDone: (error: Error) => void = () => {};
    const done = new Promise<ChildReport>((res, rej) => {
      resolveDone = res;
      rejectDone = rej;
    });
    // Callers await `done` only after `ready`; never leave an early rejection unhandled.
    done.catch(() => {});
    const timer = setTimeout(() => {
      fail(new Error(`${options.label} did not finish within ${options.timeoutMs} ms (killed)`));
      child.kill("SIGKILL");
    }, options.timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      if (!settled) {
        settled = true;
        rejectReady(error);
      }
      rejectDone(error);
    };
    const handle = (endpoint: string | undefined): RunningChild => ({
      endpoint,
      go: () => child.send({ type: "go" } satisfies ParentMessage),
      stop: () => child.send({ type: "stop" } satisfies ParentMessage),
      done,
      kill: () => child.kill("SIGKILL"),
    });
    child.on("message", (raw: unknown) => {
      const message = decodeChildMessage(raw);
      if (message?.type === "ready" && !settled) {
        settled = true;
        resolveReady(handle(message.endpoint));
      } else if (message?.type === "done") {
        clearTimeout(timer);
        resolveDone(message.report);
      } else if (message?.type === "failed") {
        fail(new Error(message.error));
      }
    });
    child.on("error", (error) => fail(error));
    child.on("exit", (code, signal) => {
      fail(new Error(`${options.label} exited (${signal ?? `code ${code}`}) before reporting`));
    });
  });
}

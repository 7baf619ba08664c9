import type { TaskEnvelope } from "../core/envelope.js";
import { CanceledError, GoTaskQError, TimeoutError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";
import type { TaskLogLine } from "../tracking/tracking-store.js";
import {
  type Attempt,
  type AttemptRef,
  effectiveTimeoutMs,
  eventOf,
  isCanceled,
  logLifecycle,
  type SettleDeps,
} from "./attempt.js";
import { keepLease } from "./lease-keeper.js";
import type { RegisteredTask, TaskContext, TaskLog } from "./registry.js";
import { settleFailure, settleSafely, settleSuccess } from "./settlement.js";

// One handler run, from STARTED to settlement. The handler gets an AbortSignal that aborts on
// timeout (TimeoutError), revocation (CanceledError) or forced shutdown (ShutdownAbort). A handler
// that ignores its aborted signal keeps running as a "zombie" we cannot kill (JavaScript has no
// thread cancellation), but after `graceMs` its slot is given back: the delivery is settled as if
// it had thrown the abort reason, and whatever the zombie returns later is ignored.

export interface ExecutionDeps extends SettleDeps {
  leaseMs: number;
  graceMs: number;
}

/** Log lines longer than this are cut: a handler must not flood the tracking store. */
export const MAX_LOG_LINE_CHARS = 8_192;

/** Why a handler was aborted at shutdown; its delivery is released, not failed. */
export class ShutdownAbort extends GoTaskQError {
  constructor() {
    super("unavailable", "the worker is shutting down; the task is released for redelivery");
  }
}

type Outcome =
  | { kind: "success"; result: unknown }
  | { kind: "error"; error: unknown }
  | { kind: "abandoned" }
  | { kind: "released" };

export class Execution {
  private readonly controller = new AbortController();
  private takeover: ((outcome: Outcome) => void) | undefined;
  private released = false;
  /** Set once the outcome is known: from then on the delivery is being settled, not released. */
  private settling = false;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: ExecutionDeps,
    readonly ref: AttemptRef & { task: RegisteredTask },
  ) {}

  get envelope(): TaskEnvelope {
    return this.ref.envelope;
  }

  /** Aborts the handler's signal (first reason wins); the grace period starts now. */
  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Shutdown: aborts the handler and gives the delivery back for immediate redelivery. */
  async release(): Promise<void> {
    if (this.released || this.settling) return;
    this.released = true;
    this.takeover?.({ kind: "released" });
    this.abort(new ShutdownAbort());
    const { delivery, envelope } = this.ref;
    if (await settleSafely(this.deps, "release", envelope.id, () => delivery.release())) {
      logLifecycle(this.deps.logger, "warn", "released", envelope, {}, "task released at shutdown");
    }
  }

  /** Runs the handler and settles the delivery. Never throws. */
  async run(): Promise<void> {
    const attempt: Attempt = { ...this.ref, startedAt: this.deps.now() };
    const end = this.begin(attempt);
    try {
      const outcome = await this.outcome(attempt);
      if (outcome.kind === "released" || this.released) return;
      this.settling = true;
      if (outcome.kind === "success")
        return await settleSuccess(this.deps, attempt, outcome.result);
      await settleFailure(this.deps, attempt, this.effectiveError(outcome));
    } catch (error) {
      this.deps.logger.error(
        { event: "worker_error", task_id: attempt.envelope.id, err: error },
        "unexpected error settling a task",
      );
    } finally {
      end();
    }
  }

  /** Records STARTED, starts the lease keeper and the timeout; returns what stops them. */
  private begin(attempt: Attempt): () => void {
    const { deps } = this;
    const { envelope, task, delivery } = attempt;
    deps.tracking.record({ ...eventOf(deps, attempt, "STARTED"), startedAt: attempt.startedAt });
    const fields = { delivery_count: delivery.deliveryCount };
    logLifecycle(deps.logger, "info", "started", envelope, fields, "task started");
    const lease = keepLease(delivery, deps.leaseMs, (error) =>
      deps.logger.warn(
        { event: "lease_extension_failed", task_id: envelope.id, err: error },
        "could not extend the lease",
      ),
    );
    const timeoutMs = effectiveTimeoutMs(deps, envelope, task);
    const message = `${JSON.stringify(task.key)} timed out after ${timeoutMs} ms (attempt ${envelope.attempt})`;
    const timer = setTimeout(() => this.abort(new TimeoutError(message)), timeoutMs);
    return () => {
      clearTimeout(timer);
      clearTimeout(this.graceTimer);
      lease.stop();
    };
  }

  private outcome(attempt: Attempt): Promise<Outcome> {
    const signal = this.controller.signal;
    const handled = new Promise<unknown>((resolve) =>
      resolve(attempt.task.handler(attempt.envelope.payload, this.context(attempt))),
    ).then(
      (result): Outcome => ({ kind: "success", result }),
      (error): Outcome => ({ kind: "error", error }),
    );
    const taken = new Promise<Outcome>((resolve) => {
      this.takeover = resolve;
      const startGrace = () => {
        this.graceTimer = setTimeout(() => resolve({ kind: "abandoned" }), this.deps.graceMs);
      };
      if (signal.aborted) startGrace();
      else signal.addEventListener("abort", startGrace, { once: true });
    });
    return Promise.race([handled, taken]);
  }

  /** The signal's reason wins once it aborted: a handler reacting to it throws something else. */
  private effectiveError(outcome: Outcome): unknown {
    const signal = this.controller.signal;
    if (outcome.kind === "abandoned") {
      logLifecycle(
        this.deps.logger,
        "warn",
        "abandoned",
        this.envelope,
        { grace_ms: this.deps.graceMs },
        "handler ignored its aborted signal; slot freed",
      );
    }
    if (signal.aborted) return signal.reason;
    if (outcome.kind === "error" && isCanceled(outcome.error))
      return new CanceledError(messageOf(outcome.error));
    return outcome.kind === "error" ? outcome.error : new Error("handler abandoned");
  }

  private context(attempt: Attempt): TaskContext {
    const { envelope, delivery } = attempt;
    return {
      taskId: envelope.id,
      functionKey: envelope.function_key,
      attempt: envelope.attempt,
      run: envelope.run,
      deliveryCount: delivery.deliveryCount,
      queue: envelope.queue,
      metadata: Object.freeze({ ...envelope.metadata }),
      signal: this.controller.signal,
      log: taskLog(this.deps, envelope),
    };
  }
}

/** ctx.log: each line to the tracking store (best-effort) and to the worker's pino stream. */
export function taskLog(
  deps: { tracking: SettleDeps["tracking"]; logger: Logger; now: () => number },
  envelope: TaskEnvelope,
): TaskLog {
  const child = deps.logger.child({
    event: "task_log",
    task_id: envelope.id,
    function_key: envelope.function_key,
    attempt: envelope.attempt,
    run: envelope.run,
  });
  const write = (level: TaskLogLine["level"]) => (message: string) => {
    const text = String(message);
    const cut =
      text.length > MAX_LOG_LINE_CHARS ? `${text.slice(0, MAX_LOG_LINE_CHARS)}… (truncated)` : text;
    deps.tracking.log({
      taskId: envelope.id,
      attempt: envelope.attempt,
      at: deps.now(),
      level,
      message: cut,
    });
    child[level](cut);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

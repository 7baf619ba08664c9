import type { TaskEnvelope } from "../core/envelope.js";
import { CanceledError, GoTaskQError, TimeoutError } from "../core/errors.js";
import type { RegisteredTask } from "../tasks/registry.js";
import {
  type Attempt,
  type AttemptRef,
  effectiveTimeoutMs,
  eventOf,
  isCanceled,
  logLifecycle,
  type SettleDeps,
} from "./attempt.js";
import { HandlerContext } from "./handler-context.js";
import type { HeldLease, LeaseKeeper } from "./lease-keeper.js";
import { settleFailure, settleSafely, settleSuccess } from "./settlement.js";

// One handler run, from STARTED to settlement. The handler gets an AbortSignal that aborts on
// timeout (TimeoutError), revocation (CanceledError) or forced shutdown (ShutdownAbort). A handler
// that ignores its aborted signal keeps running as a "zombie" we cannot kill (JavaScript has no
// thread cancellation), but after `graceMs` its slot is given back: the delivery is settled as if
// it had thrown the abort reason, and whatever the zombie returns later is ignored.

export interface ExecutionDeps extends SettleDeps {
  leases: LeaseKeeper;
  graceMs: number;
}

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
  // The AbortController is made when the handler first reads ctx.signal (most never do, and an
  // AbortSignal costs microseconds to create); until then `abortReason` alone says it aborted.
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  /** Ends the race for the outcome: the handler settling, abandonment or release. */
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

  /** The handler's signal: aborted with the first abort reason, even one given before it existed. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts the handler's signal (first reason wins); the grace period starts now. */
  abort(reason: Error): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    if (this.takeover !== undefined) this.startGrace();
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

  /**
   * Runs the handler and settles the delivery; the returned promise never rejects. A then-chain,
   * not an async function: an async frame suspended across the handler and the ack cost about
   * 800 bytes per task (sampling heap profiler), these three closures a fraction of that.
   */
  run(): Promise<void> {
    const { delivery, envelope, task } = this.ref;
    const attempt: Attempt = { delivery, envelope, task, startedAt: this.deps.now() };
    const lease = this.begin(attempt);
    const timer = this.startTimeout(attempt);
    // Only once the delivery is settled (or settling failed): the lease and the timers go.
    const finish = () => {
      clearTimeout(timer);
      clearTimeout(this.graceTimer);
      this.deps.leases.release(lease);
    };
    return this.outcome(attempt)
      .then((outcome) => this.settle(attempt, outcome))
      .then(finish, (error: unknown) => {
        finish();
        this.deps.logger.error(
          { event: "worker_error", task_id: attempt.envelope.id, err: error },
          "unexpected error settling a task",
        );
      });
  }

  /** Settles by the outcome; nothing to do when the delivery was released at shutdown. */
  private settle(attempt: Attempt, outcome: Outcome): Promise<void> | undefined {
    if (outcome.kind === "released" || this.released) return undefined;
    this.settling = true;
    if (outcome.kind === "success") return settleSuccess(this.deps, attempt, outcome.result);
    return settleFailure(this.deps, attempt, this.effectiveError(outcome));
  }

  /** Records STARTED, logs it and starts keeping the lease. */
  private begin(attempt: Attempt): HeldLease {
    const { deps } = this;
    const { envelope, delivery } = attempt;
    if (deps.tracking.enabled !== false) {
      const event = eventOf(deps, attempt, "STARTED");
      event.startedAt = attempt.startedAt;
      deps.tracking.record(event);
    }
    // Checked here too so no fields object is built per task when info lines are dropped.
    if (deps.logger.isLevelEnabled("info")) {
      const fields = { delivery_count: delivery.deliveryCount };
      logLifecycle(deps.logger, "info", "started", envelope, fields, "task started");
    }
    deps.unique?.started(envelope);
    return deps.leases.hold(delivery);
  }

  private startTimeout(attempt: Attempt): NodeJS.Timeout {
    const { envelope, task } = attempt;
    const timeoutMs = effectiveTimeoutMs(this.deps, envelope, task);
    return setTimeout(() => {
      const message = `${JSON.stringify(task.key)} timed out after ${timeoutMs} ms (attempt ${envelope.attempt})`;
      this.abort(new TimeoutError(message));
    }, timeoutMs);
  }

  /**
   * The first of: the handler settling, the grace period after an abort running out
   * (abandoned), or a shutdown release. One promise: whichever resolves it first wins.
   */
  private outcome(attempt: Attempt): Promise<Outcome> {
    return new Promise<Outcome>((resolve) => {
      this.takeover = resolve;
      let returned: unknown;
      try {
        const { envelope, delivery } = attempt;
        const context = new HandlerContext(this, this.deps, envelope, delivery.deliveryCount);
        returned = attempt.task.handler(envelope.payload, context);
      } catch (error) {
        resolve({ kind: "error", error });
        return;
      }
      Promise.resolve(returned).then(
        (result) => resolve({ kind: "success", result }),
        (error: unknown) => resolve({ kind: "error", error }),
      );
      // Aborted while the handler was being called (it read its signal and something aborted).
      if (this.abortReason !== undefined) this.startGrace();
    });
  }

  private startGrace(): void {
    if (this.graceTimer !== undefined) return;
    this.graceTimer = setTimeout(() => this.takeover?.({ kind: "abandoned" }), this.deps.graceMs);
  }

  /** The signal's reason wins once it aborted: a handler reacting to it throws something else. */
  private effectiveError(outcome: Outcome): unknown {
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
    if (this.abortReason !== undefined) return this.abortReason;
    if (outcome.kind === "error" && isCanceled(outcome.error))
      return new CanceledError(messageOf(outcome.error));
    return outcome.kind === "error" ? outcome.error : new Error("handler abandoned");
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

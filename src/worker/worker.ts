import { hostname } from "node:os";
import type { ControlCommand, Delivery, Subscription } from "../broker/broker.js";
import { CanceledError, GoTaskQError } from "../core/errors.js";
import type { Service } from "../core/lifecycle.js";
import { Execution, type ExecutionDeps } from "./execution.js";
import { HandBack } from "./hand-back.js";
import { HeartbeatLoop, packageVersion } from "./heartbeat-loop.js";
import { LeaseKeeper } from "./lease-keeper.js";
import { Peers } from "./peers.js";
import { PresenceLoop } from "./presence-loop.js";
import { Revocations, revocationApplies } from "./revocations.js";
import { type ScreeningDeps, screen } from "./screening.js";
import { settleSafely } from "./settlement.js";
import { UniqueRelease } from "./unique-release.js";
import {
  type ResolvedWorkerOptions,
  resolveWorkerOptions,
  type WorkerOptions,
} from "./worker-options.js";

// The worker: consumes its queues with prefetch = concurrency (so the broker, not a local
// semaphore, bounds how many handlers run), screens each delivery, runs it and settles it.
// Stateless: everything it decides comes from the message, its registry and the broker's control
// channel (revocations, and presence beats saying which live workers run which functions); it
// writes to tracking and never reads it. Nothing a handler, the broker or the tracking sink does
// can crash it: every path ends in a logged error, and an unsettled delivery is redelivered by the
// broker after its lease.

export type { WorkerOptions } from "./worker-options.js";

type State = "idle" | "starting" | "running" | "stopping" | "stopped";

export class Worker implements Service {
  readonly id: string;
  private readonly options: ResolvedWorkerOptions;
  private readonly deps: ExecutionDeps & ScreeningDeps;
  private readonly revocations: Revocations;
  private readonly heartbeats: HeartbeatLoop;
  private readonly peers: Peers;
  private readonly presence: PresenceLoop;
  private state: State = "idle";
  private accepting = false;
  private startedAt = 0;
  private consumer: Subscription | undefined;
  private controlSubscription: Subscription | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** Deliveries not yet settled (screening, running, settling). */
  private held = 0;
  /**
   * Running handlers, for revocations and shutdown. Not keyed by task id: revocations are rare, a
   * scan of at most `concurrency` entries is cheap, and hashing every task id is not.
   */
  private readonly executions = new Set<Execution>();
  private idleWaiters: Array<() => void> = [];

  constructor(options: WorkerOptions) {
    this.options = resolveWorkerOptions(options);
    const o = this.options;
    this.id = o.workerId;
    this.revocations = new Revocations({
      ttlMs: o.revocationTtlMs,
      maxEntries: o.maxRevocations,
      now: o.now,
    });
    const logger = o.logger.child({ worker_id: o.workerId });
    this.peers = new Peers(o.workerId, o.now);
    this.deps = {
      tracking: o.tracking,
      logger,
      workerId: o.workerId,
      now: o.now,
      random: o.random,
      maxDelayMs: o.broker.limits.maxDelayMs,
      defaults: { maxRetries: o.maxRetries, timeoutMs: o.timeoutMs, backoff: o.backoff },
      unique: new UniqueRelease(o.coordination, logger),
      leases: new LeaseKeeper(o.leaseMs, (delivery, error) =>
        logger.warn(
          { event: "lease_extension_failed", task_id: delivery.id, err: error },
          "could not extend the lease",
        ),
      ),
      graceMs: o.graceMs,
      registry: o.registry,
      revocations: this.revocations,
      maxDeliveries: o.maxDeliveries,
      handBack: new HandBack({
        peers: this.peers,
        startedAt: () => this.startedAt,
        // Two intervals: every live peer has beaten at least once since this worker subscribed.
        youngMs: 2 * o.presenceIntervalMs,
        baseDelayMs: o.handBackDelayMs,
        concurrency: o.concurrency,
        now: o.now,
        random: o.random,
      }),
    };
    this.presence = new PresenceLoop(
      o.broker.control,
      () => ({ workerId: o.workerId, queues: o.queues, functions: o.registry.keys() }),
      o.presenceIntervalMs,
      logger,
      o.now,
    );
    this.heartbeats = new HeartbeatLoop(
      o.tracking,
      () => this.snapshot(),
      o.heartbeatIntervalMs,
      o.now,
    );
  }

  /** Deliveries held and not yet settled (at most `concurrency`). */
  get running(): number {
    return this.held;
  }

  /** Subscribes to revocations (replay included), then starts consuming. */
  start(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") {
      return Promise.reject(
        new GoTaskQError("conflict", "this worker was stopped; create a new Worker to start again"),
      );
    }
    this.starting ??= this.open();
    return this.starting;
  }

  /** Stops fetching, lets running tasks finish within shutdownGraceMs, releases the rest. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  /** Resolves once no delivery is held (immediately when none is). */
  onIdle(): Promise<void> {
    if (this.held === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async open(): Promise<void> {
    const o = this.options;
    this.state = "starting";
    this.startedAt = o.now();
    try {
      // Revocations first: the replay must be in place before the first delivery is screened.
      this.controlSubscription = await o.broker.control.subscribe((command) =>
        this.onControl(command),
      );
      // Before consuming, so peers hear of this worker's functions as early as possible.
      await this.presence.start();
      this.accepting = true;
      this.consumer = await o.broker.consume(
        o.queues,
        { prefetch: o.concurrency, leaseMs: o.leaseMs },
        (d) => this.onDelivery(d),
      );
      await this.heartbeats.start();
    } catch (error) {
      this.accepting = false;
      await this.presence.stop();
      await this.consumer?.close().catch(() => undefined);
      await this.controlSubscription?.close().catch(() => undefined);
      this.state = "stopped";
      throw error;
    }
    this.state = "running";
    this.deps.logger.info(
      {
        event: "worker_started",
        queues: o.queues,
        concurrency: o.concurrency,
        functions: o.registry.keys(),
      },
      "worker started",
    );
  }

  private async close(): Promise<void> {
    if (this.state === "idle") {
      this.state = "stopped";
      return;
    }
    await this.starting?.catch(() => undefined);
    // A start that failed already cleaned up after itself.
    if (this.state === "stopped") return;
    this.state = "stopping";
    this.accepting = false;
    const log = this.deps.logger;
    await this.consumer?.close().catch((err) => log.warn({ err }, "closing the consumer failed"));
    if (!(await this.waitIdle(this.options.shutdownGraceMs))) {
      const left = [...this.executions];
      log.warn(
        { event: "shutdown_release", count: left.length },
        "shutdown grace period over; releasing unfinished tasks",
      );
      await Promise.all(left.map((execution) => execution.release()));
      // Deliveries still being screened or settled finish on their own; don't wait forever.
      await this.waitIdle(Math.max(1_000, this.options.graceMs));
    }
    await this.controlSubscription
      ?.close()
      .catch((err) => log.warn({ err }, "closing the control subscription failed"));
    await this.heartbeats.stop();
    await this.presence.stop();
    this.state = "stopped";
    log.info({ event: "worker_stopped" }, "worker stopped");
  }

  private onDelivery(delivery: Delivery): void {
    if (!this.accepting) {
      // Arrived while shutting down: give it straight back for another worker.
      void settleSafely(this.deps, "release", delivery.id, () => delivery.release());
      return;
    }
    this.held++;
    this.dispatch(delivery);
  }

  /**
   * Screens, runs and settles one delivery; never throws, and `held` drops once it is settled.
   * A then-chain, not an async function: an async frame suspended across the whole run cost
   * about 550 bytes per task (sampling heap profiler), two closures a fraction of that.
   */
  private dispatch(delivery: Delivery): void {
    let execution: Execution | undefined;
    let done: Promise<void>;
    try {
      const screened = screen(this.deps, delivery);
      if (screened.kind === "settled") {
        done = screened.done;
      } else {
        execution = new Execution(this.deps, screened.attempt);
        this.executions.add(execution);
        done = execution.run();
      }
    } catch (err) {
      // Slot first: a logger that throws must not leak it (waiters resume only after this).
      this.dispatched(execution);
      this.dispatchFailed(delivery, err);
      return;
    }
    done.then(
      () => this.dispatched(execution),
      (err: unknown) => {
        this.dispatched(execution);
        this.dispatchFailed(delivery, err);
      },
    );
  }

  private dispatchFailed(delivery: Delivery, err: unknown): void {
    this.deps.logger.error(
      { event: "worker_error", task_id: delivery.id, err },
      "unexpected error handling a delivery",
    );
  }

  /** The delivery is settled (or given up on): its slot is free. */
  private dispatched(execution: Execution | undefined): void {
    if (execution !== undefined) this.executions.delete(execution);
    this.held--;
    if (this.held === 0) this.notifyIdle();
  }

  private onControl(command: ControlCommand): void {
    if (command.type === "presence") {
      this.peers.heard(command);
      return;
    }
    if (command.type !== "revoke") return;
    this.revocations.add(command.taskId, command.at);
    for (const execution of this.executions) {
      const { envelope } = execution;
      if (envelope.id === command.taskId && revocationApplies(command.at, envelope)) {
        execution.abort(new CanceledError("the task was canceled while running"));
      }
    }
  }

  private waitIdle(ms: number): Promise<boolean> {
    if (this.held === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.onIdle().then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private snapshot() {
    const o = this.options;
    return {
      workerId: o.workerId,
      host: hostname(),
      pid: process.pid,
      queues: o.queues,
      concurrency: o.concurrency,
      running: this.running,
      functions: o.registry.keys(),
      version: packageVersion(),
      startedAt: this.startedAt,
    };
  }
}

import type { ControlChannel, PresenceCommand, Subscription } from "../broker/broker.js";
import type { Service } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";
import { nearbyKeys } from "../tasks/registry.js";

// The function keys live workers run, as an API server hears them: workers announce themselves
// (id, queues, function keys, ttl) on the broker's control channel every presence interval
// (src/worker/presence-loop.ts), and this listens there. With it, the API accepts a key that its
// own registry lacks when a live worker registers it on the submission's queue (a worker started
// with another task module beside `gotaskq dev`), and still refuses, with a 422 naming the key,
// one that nobody runs. A worker counts as live for the ttl its last beat announced, measured on
// this process's clock from the beat's arrival (clock skew between hosts does not matter).
//
// Start-up: a server that has just subscribed has not heard every worker yet (each beats once per
// interval). For one interval (+ a margin) after start, a submission of a key nobody is known to
// run waits until a beat names it or the interval ends, then is decided (see `settle`): a typo is
// still refused, a real key is never refused because the server is young. Only such
// submissions wait, and only then; keys the registry knows never do.

/** The workers' presence interval (their default, src/worker/worker-options.ts). */
export const DEFAULT_PRESENCE_INTERVAL_MS = 5_000;

/** Keys a refusal lists at most. */
const LISTED_KEYS = 20;

/** Added to the interval: a beat sent at its end still arrives within the window. */
const START_MARGIN_MS = 500;

interface LiveWorker {
  queues: ReadonlySet<string>;
  functions: ReadonlySet<string>;
  /** Epoch ms (local clock) after which the worker is no longer counted. */
  until: number;
}

export interface LiveFunctionsOptions {
  control: ControlChannel;
  logger: Logger;
  /** The workers' presence interval: the start-up window (ms). Default 5 000. */
  presenceIntervalMs?: number;
  now?: () => number;
}

export class LiveFunctions implements Service {
  readonly #control: ControlChannel;
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #workers = new Map<string, LiveWorker>();
  /** Waiters of the start-up window, woken by each beat (and each by its own timer). */
  readonly #waiters = new Set<() => void>();
  #subscription: Subscription | undefined;
  #startedAt: number | undefined;

  constructor(options: LiveFunctionsOptions) {
    this.#control = options.control;
    this.#logger = options.logger;
    this.#windowMs = (options.presenceIntervalMs ?? DEFAULT_PRESENCE_INTERVAL_MS) + START_MARGIN_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Subscribes to the control channel; resolves once subscribed. */
  async start(): Promise<void> {
    if (this.#subscription) return;
    this.#subscription = await this.#control.subscribe((command) => {
      if (command.type === "presence") this.#heard(command);
    });
    this.#startedAt = this.#now();
    this.#logger.debug({ event: "presence_listening" }, "listening to worker presence");
  }

  /** Unsubscribes; waiters are released. Idempotent. */
  async stop(): Promise<void> {
    const subscription = this.#subscription;
    this.#subscription = undefined;
    this.#startedAt = undefined;
    this.#wake();
    await subscription?.close();
  }

  /** Whether a live worker registers `functionKey` and consumes `queue`. */
  runs(functionKey: string, queue: string): boolean {
    return this.#live().some((w) => w.functions.has(functionKey) && w.queues.has(queue));
  }

  /** Every key a live worker registers, sorted. */
  keys(): string[] {
    return [...new Set(this.#live().flatMap((w) => [...w.functions]))].sort();
  }

  /**
   * Resolves at once after the start-up window; within it, once every key of `functionKeys` is
   * known (`known(key)`, or heard from a live worker) or the window ends.
   */
  async settle(functionKeys: readonly string[], known: (key: string) => boolean): Promise<void> {
    const pending = () =>
      this.#inWindow() &&
      functionKeys.some((key) => !known(key) && !this.#live().some((w) => w.functions.has(key)));
    while (pending()) {
      const left = (this.#startedAt ?? 0) + this.#windowMs - this.#now();
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, left + 1));
        this.#waiters.add(done);
      });
    }
  }

  /**
   * Why `functionKey` is refused on `queue`, given the registry's own keys: the message of the
   * 422, in the registry's own words (nearby keys, the registered ones) plus the live workers':
   * that none registers the key, or on which queues some do.
   */
  refusal(functionKey: string, queue: string, registered: readonly string[]): string {
    const key = JSON.stringify(functionKey);
    const elsewhere = [
      ...new Set(
        this.#live()
          .filter((w) => w.functions.has(functionKey))
          .flatMap((w) => [...w.queues]),
      ),
    ].sort();
    if (elsewhere.length > 0) {
      return `function_key ${key} is run by live workers on queue ${elsewhere.join(", ")}, none on ${JSON.stringify(queue)}: set "queue" to one of those`;
    }
    const all = [...new Set([...registered, ...this.keys()])].sort();
    const near = nearbyKeys(functionKey, all);
    const hint =
      near.length > 0 ? `; did you mean ${near.map((k) => JSON.stringify(k)).join(" or ")}?` : "";
    const listed = all.slice(0, LISTED_KEYS).join(", ") + (all.length > LISTED_KEYS ? ", …" : "");
    return `unknown function_key ${key}${hint} (registered functions: ${listed || "none"}; no live worker registers ${key} either)`;
  }

  #heard(beat: PresenceCommand): void {
    if (beat.ttlMs <= 0) {
      this.#workers.delete(beat.workerId);
    } else {
      this.#workers.set(beat.workerId, {
        queues: new Set(beat.queues),
        functions: new Set(beat.functions),
        until: this.#now() + beat.ttlMs,
      });
    }
    if (this.#waiters.size > 0) this.#wake();
  }

  #inWindow(): boolean {
    return this.#startedAt !== undefined && this.#now() < this.#startedAt + this.#windowMs;
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const resolve of waiters) resolve();
  }

  /** Live workers (expired ones are dropped on the way). */
  #live(): LiveWorker[] {
    const now = this.#now();
    for (const [id, worker] of this.#workers) {
      if (worker.until <= now) this.#workers.delete(id);
    }
    return [...this.#workers.values()];
  }
}

// One lifecycle for every long-running thing (worker, loops, servers): `start()` resolves once it
// is ready to do its job, `stop()` is idempotent and resolves once everything it started has ended.
export interface Service {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** One named step of a `ServiceSequence`. */
export interface Part extends Service {
  readonly name: string;
}

/**
 * Parts started one after the other and stopped in reverse order, as one `Service`. When a part
 * fails to start, the ones already started are stopped (in reverse) and the error is rethrown.
 * `stop()` waits for a start in progress, then stops every started part even when one of them
 * fails to stop (`onStopError` hears of each failure; the first is rethrown at the end).
 */
export class ServiceSequence implements Service {
  readonly #parts: readonly Part[];
  readonly #onStopError: (part: string, error: unknown) => void;
  readonly #started: Part[] = [];
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(parts: readonly Part[], onStopError: (part: string, error: unknown) => void) {
    this.#parts = parts;
    this.#onStopError = onStopError;
  }

  start(): Promise<void> {
    this.#starting ??= this.#startAll();
    return this.#starting;
  }

  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      await this.#stopStarted();
    })();
    return this.#stopping;
  }

  async #startAll(): Promise<void> {
    for (const part of this.#parts) {
      if (this.#stopping) break;
      try {
        await part.start();
      } catch (error) {
        // A part that failed half-way may hold something: stop() is idempotent, so ask it too.
        this.#started.push(part);
        await this.#stopStarted().catch(() => undefined);
        throw error;
      }
      this.#started.push(part);
    }
  }

  async #stopStarted(): Promise<void> {
    let first: { error: unknown } | undefined;
    while (this.#started.length > 0) {
      const part = this.#started.pop() as Part;
      try {
        await part.stop();
      } catch (error) {
        this.#onStopError(part.name, error);
        first ??= { error };
      }
    }
    if (first) throw first.error;
  }
}

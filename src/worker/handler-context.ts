import type { TaskEnvelope } from "../core/envelope.js";
import type { Logger } from "../logging/logger.js";
import type { TaskContext, TaskLog } from "../tasks/registry.js";
import type { TrackingSink } from "../tracking/tracking-sink.js";
import type { TaskLogLine } from "../tracking/tracking-store.js";

// What a handler gets as `ctx`. One is built for every task, and most handlers never touch
// `signal` or `log`, so those two are made on first read: an AbortSignal costs microseconds and
// over a kilobyte to create, the log writers a pino child on first line. They are own enumerable
// accessors, not prototype getters, so `{ ...ctx }` still carries them as it carried the data
// properties they replace. Their getters are shared by every context: a getter made per object
// pushes V8 to dictionary-mode properties, which costs more than the signal it saves
// (bench/results/micro-measurements.md). Their setters turn them into plain data properties, so assigning works too.

/** Log lines longer than this are cut: a handler must not flood the tracking store. */
export const MAX_LOG_LINE_CHARS = 8_192;

export interface TaskLogDeps {
  tracking: TrackingSink;
  logger: Logger;
  now: () => number;
}

/** Whatever owns the handler's signal (the execution), asked once the handler reads it. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

export class HandlerContext implements TaskContext {
  readonly taskId: string;
  readonly functionKey: string;
  readonly attempt: number;
  readonly run: number;
  readonly deliveryCount: number;
  readonly queue: string;
  readonly metadata: Readonly<Record<string, string>>;
  declare readonly signal: AbortSignal;
  declare readonly log: TaskLog;
  readonly #source: SignalSource;
  readonly #deps: TaskLogDeps;
  readonly #envelope: TaskEnvelope;
  #log: TaskLog | undefined;

  constructor(
    source: SignalSource,
    deps: TaskLogDeps,
    envelope: TaskEnvelope,
    deliveryCount: number,
  ) {
    this.taskId = envelope.id;
    this.functionKey = envelope.function_key;
    this.attempt = envelope.attempt;
    this.run = envelope.run;
    this.deliveryCount = deliveryCount;
    this.queue = envelope.queue;
    this.metadata = frozenMetadata(envelope.metadata);
    this.#source = source;
    this.#deps = deps;
    this.#envelope = envelope;
    Object.defineProperty(this, "signal", HandlerContext.#signal);
    Object.defineProperty(this, "log", HandlerContext.#logDescriptor);
  }

  static readonly #signal: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: HandlerContext): AbortSignal {
      return this.#source.signal;
    },
    set(this: HandlerContext, value: unknown) {
      becomeData(this, "signal", value);
    },
  };

  static readonly #logDescriptor: PropertyDescriptor = {
    enumerable: true,
    configurable: true,
    get(this: HandlerContext): TaskLog {
      this.#log ??= taskLog(this.#deps, this.#envelope);
      return this.#log;
    },
    set(this: HandlerContext, value: unknown) {
      becomeData(this, "log", value);
    },
  };
}

// Most tasks carry no metadata: they all share one frozen empty object instead of each copying
// and freezing its own (a spread plus a freeze per task, for nothing a handler could tell apart).
const NO_METADATA: Readonly<Record<string, string>> = Object.freeze({});

/** A frozen copy of the envelope's metadata (a handler must not change what later steps read). */
function frozenMetadata(metadata: Record<string, string>): Readonly<Record<string, string>> {
  for (const _ in metadata) return Object.freeze({ ...metadata });
  return NO_METADATA;
}

/** A handler that assigns to a lazy property gets what a data property would have given it. */
function becomeData(context: HandlerContext, name: "signal" | "log", value: unknown): void {
  Object.defineProperty(context, name, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/** ctx.log: each line to the tracking store (best-effort) and to the worker's pino stream. */
export function taskLog(deps: TaskLogDeps, envelope: TaskEnvelope): TaskLog {
  // Made on the first line: a pino child costs more than most handlers' whole logging.
  let child: Logger | undefined;
  const write = (level: TaskLogLine["level"]) => (message: string) => {
    const text = String(message);
    const cut =
      text.length > MAX_LOG_LINE_CHARS ? `${text.slice(0, MAX_LOG_LINE_CHARS)}… (truncated)` : text;
    if (deps.tracking.enabled !== false) {
      deps.tracking.log({
        taskId: envelope.id,
        attempt: envelope.attempt,
        at: deps.now(),
        level,
        message: cut,
      });
    }
    child ??= deps.logger.child({
      event: "task_log",
      task_id: envelope.id,
      function_key: envelope.function_key,
      attempt: envelope.attempt,
      run: envelope.run,
    });
    child[level](cut);
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

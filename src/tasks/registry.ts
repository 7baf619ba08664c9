import { type BackoffPolicy, type CustomBackoff, parseBackoff } from "../core/backoff.js";
import { InvalidArgumentError, UnknownFunctionError } from "../core/errors.js";
import {
  DEFAULT_QUEUE,
  FUNCTION_KEY_PATTERN,
  MAX_RETRIES_LIMIT,
  MAX_TIMEOUT_MS,
  QUEUE_PATTERN,
} from "../core/submission.js";
import { checkUnique } from "../core/submission-fields.js";
import type { UniqueUntil } from "../core/submission-identity.js";
import {
  createSchemaCompiler,
  describeSchemaErrors,
  type JsonSchema,
  type PayloadValidator,
} from "./payload-schema.js";

// The task registry: which function runs for which `function_key`, with its per-function
// defaults. Workers dispatch through it; a registry-aware producer or API uses it to refuse
// unknown keys and bad payloads before anything is enqueued. Handlers are plain async functions
// `(payload, ctx) => result` (Graphile Worker's shape): no base class, no decorators.

/** Handler log lines go to the tracking store (best-effort) and to the worker's stdout. */
export interface TaskLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface TaskContext {
  taskId: string;
  functionKey: string;
  /** 0-based retry counter within this run. */
  attempt: number;
  /** 0-based requeue counter: a requeue from the DLQ starts run + 1 at attempt 0. */
  run: number;
  /** 1 on the first delivery of this attempt; more when a worker died or released it. */
  deliveryCount: number;
  queue: string;
  metadata: Readonly<Record<string, string>>;
  /** Aborts on timeout (reason: TimeoutError), revocation (CanceledError) or worker shutdown. */
  signal: AbortSignal;
  log: TaskLog;
}

export type TaskHandler<P = unknown, R = unknown> = (
  payload: P,
  ctx: TaskContext,
) => Promise<R> | R;

/**
 * What a worker runs a task with when neither the submission nor the function's options set a
 * value (a worker's own options may override them). The worker's option defaults and the API's
 * `GET /v1/functions` both read these, so what the API reports is what a worker does.
 */
export const DEFAULT_TASK_TIMEOUT_MS = 30_000;
export const DEFAULT_TASK_MAX_RETRIES = 3;

export interface TaskOptions {
  /** JSON Schema of the payload, checked before the handler runs (failure → DLQ, no retry). */
  schema?: JsonSchema;
  /** Default per-attempt timeout when the submission gives none (worker default: 30 000 ms). */
  timeoutMs?: number;
  /** Default retries after the first attempt when the submission gives none (worker default: 3). */
  maxRetries?: number;
  /** Default backoff when the submission gives none; a function never travels on the wire. */
  backoff?: BackoffPolicy | CustomBackoff;
  /** Queue a submission without an explicit `queue` goes to (default "default"). */
  queue?: string;
  description?: string;
  /**
   * At most one task of this function per key while one is queued (`until: "started"`, the
   * default) or until it ends (`"finished"`); a submission's own `unique` wins. `key` is a
   * template over payload and metadata (default: the whole payload); `ttlMs` bounds how long
   * the key is held if no worker releases it (default 24 h). Needs the coordination store.
   */
  unique?: { key?: string; until?: UniqueUntil; ttlMs?: number };
}

export interface RegisteredTask {
  key: string;
  handler: TaskHandler;
  options: Readonly<TaskOptions>;
  /** The compiled schema, when one was given. */
  validator?: PayloadValidator;
}

/** What the API lists under `GET /v1/functions`. */
export interface FunctionDescription {
  key: string;
  queue: string;
  description?: string;
  schema?: JsonSchema;
  timeoutMs?: number;
  maxRetries?: number;
}

/**
 * A handler with any payload type. `never` as the parameter type accepts every handler, whatever
 * payload type it declares (parameters are contravariant), so task modules can type their
 * payloads; the payload schema, not the compiler, is what checks them at run time.
 */
export type AnyTaskHandler = TaskHandler<never, unknown>;

export type TaskDefinition = AnyTaskHandler | ({ handler: AnyTaskHandler } & TaskOptions);

export class TaskRegistry {
  private readonly tasks = new Map<string, RegisteredTask>();
  private readonly compile = createSchemaCompiler();

  /** Registers `handler` under `key`; throws InvalidArgumentError on a bad key, option or schema. */
  register<P = unknown, R = unknown>(
    key: string,
    handler: TaskHandler<P, R>,
    options: TaskOptions = {},
  ): this {
    if (typeof key !== "string" || !FUNCTION_KEY_PATTERN.test(key)) {
      throw new InvalidArgumentError(
        `function key must match ${FUNCTION_KEY_PATTERN} (got ${JSON.stringify(key)})`,
      );
    }
    if (this.tasks.has(key)) {
      throw new InvalidArgumentError(`function ${JSON.stringify(key)} is already registered`);
    }
    if (typeof handler !== "function") {
      throw new InvalidArgumentError(`the handler of ${JSON.stringify(key)} must be a function`);
    }
    const checked = checkOptions(key, options);
    const validator = checked.schema ? this.compile(checked.schema, key) : undefined;
    this.tasks.set(key, {
      key,
      handler: handler as TaskHandler,
      options: Object.freeze(checked),
      ...(validator ? { validator } : {}),
    });
    return this;
  }

  has(key: string): boolean {
    return this.tasks.has(key);
  }

  get(key: string): RegisteredTask | undefined {
    return this.tasks.get(key);
  }

  keys(): string[] {
    return [...this.tasks.keys()].sort();
  }

  describe(): FunctionDescription[] {
    return this.keys().map((key) => {
      const { options } = this.tasks.get(key) as RegisteredTask;
      return {
        key,
        queue: options.queue ?? DEFAULT_QUEUE,
        ...(options.description !== undefined ? { description: options.description } : {}),
        ...(options.schema !== undefined ? { schema: options.schema } : {}),
        ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
        ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
      };
    });
  }

  /**
   * The task for `key`, or an UnknownFunctionError (the caller named a function that does not
   * exist: a 4xx, not a 404 of the route) whose message suggests the nearest registered keys and
   * lists the registered ones (the first 20).
   */
  require(key: string): RegisteredTask {
    const task = this.tasks.get(key);
    if (task) return task;
    throw new UnknownFunctionError(key, unknownKeyMessage(key, this.keys()));
  }

  /** Throws UnknownFunctionError for an unknown key, InvalidArgumentError for a refused payload. */
  validatePayload(key: string, payload: unknown): void {
    const { validator } = this.require(key);
    if (validator && !validator(payload)) {
      throw new InvalidArgumentError(describeSchemaErrors(key, validator.errors));
    }
  }
}

function checkOptions(key: string, options: TaskOptions): TaskOptions {
  const where = `options of ${JSON.stringify(key)}`;
  const int = (name: "timeoutMs" | "maxRetries", min: number, max: number) => {
    const v = options[name];
    if (v !== undefined && (!Number.isInteger(v) || v < min || v > max)) {
      throw new InvalidArgumentError(
        `${where}: ${name} must be an integer between ${min} and ${max} (got ${v})`,
      );
    }
  };
  int("timeoutMs", 1, MAX_TIMEOUT_MS);
  int("maxRetries", 0, MAX_RETRIES_LIMIT);
  if (options.queue !== undefined && !QUEUE_PATTERN.test(options.queue)) {
    throw new InvalidArgumentError(
      `${where}: queue must match ${QUEUE_PATTERN} (got ${JSON.stringify(options.queue)})`,
    );
  }
  if (
    options.schema !== undefined &&
    (typeof options.schema !== "object" || options.schema === null)
  ) {
    throw new InvalidArgumentError(`${where}: schema must be a JSON Schema object`);
  }
  if (options.unique !== undefined) {
    const { key: template, until, ttlMs } = options.unique;
    checkUnique(`${where}: unique`, {
      ...(template !== undefined ? { key: template } : {}),
      ...(until !== undefined ? { until } : {}),
      ...(ttlMs !== undefined ? { ttl_ms: ttlMs } : {}),
    });
  }
  const backoff = options.backoff;
  return {
    ...options,
    ...(backoff !== undefined && typeof backoff !== "function"
      ? { backoff: parseBackoff(backoff, `${where}: backoff`) }
      : {}),
  };
}

const LISTED_KEYS = 20;

function unknownKeyMessage(key: string, keys: readonly string[]): string {
  const unknown = `unknown function_key ${JSON.stringify(key)}`;
  if (keys.length === 0) return `${unknown} (no functions are registered)`;
  const near = nearbyKeys(key, keys);
  const hint =
    near.length > 0 ? `; did you mean ${near.map((k) => JSON.stringify(k)).join(" or ")}?` : "";
  const listed = keys.slice(0, LISTED_KEYS).join(", ") + (keys.length > LISTED_KEYS ? ", …" : "");
  return `${unknown}${hint} (registered functions: ${listed})`;
}

/** Up to three registered keys close to `key`: same prefix before a dot, or a small edit distance. */
export function nearbyKeys(key: string, keys: readonly string[]): string[] {
  const lower = key.toLowerCase();
  const prefix = lower.split(".")[0] ?? lower;
  const limit = Math.max(2, Math.floor(key.length / 3));
  return keys
    .map((k) => ({ k, d: editDistance(lower, k.toLowerCase()) }))
    .filter(({ k, d }) => d <= limit || k.toLowerCase().startsWith(`${prefix}.`))
    .sort((a, b) => a.d - b.d)
    .slice(0, 3)
    .map(({ k }) => k);
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution);
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/**
 * Builds a registry from a plain object, the shape task modules export:
 * `export default defineTasks({ "email.send": sendEmail, "report.build": { handler, timeoutMs: 60_000 } })`.
 */
export function defineTasks(definitions: Record<string, TaskDefinition>): TaskRegistry {
  const registry = new TaskRegistry();
  for (const [key, definition] of Object.entries(definitions)) {
    if (typeof definition === "function") {
      registry.register(key, definition as TaskHandler);
    } else if (typeof definition === "object" && definition !== null) {
      const { handler, ...options } = definition;
      registry.register(key, handler as TaskHandler, options);
    } else {
      throw new InvalidArgumentError(
        `task ${JSON.stringify(key)} must be a handler function or { handler, ...options }`,
      );
    }
  }
  return registry;
}

/**
 * The registry a loaded task module provides (what `worker --tasks <module>` accepts): a
 * TaskRegistry or a definitions object, as the module's default export or as the module itself.
 */
export function registryFromModule(loaded: unknown, source = "the task module"): TaskRegistry {
  const candidate =
    typeof loaded === "object" && loaded !== null && "default" in loaded
      ? (loaded as { default: unknown }).default
      : loaded;
  if (candidate instanceof TaskRegistry || looksLikeRegistry(candidate)) {
    return candidate as TaskRegistry;
  }
  if (typeof candidate === "object" && candidate !== null && !Array.isArray(candidate)) {
    return defineTasks(candidate as Record<string, TaskDefinition>);
  }
  throw new InvalidArgumentError(
    `${source} must export (as default) a TaskRegistry or an object such as { "email.send": async (payload, ctx) => … }`,
  );
}

// A registry built by another copy of gotaskq (e.g. a task package with its own dependency) is
// not an instance of this class but works the same.
function looksLikeRegistry(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return ["get", "keys", "describe", "validatePayload", "register"].every(
    (m) => typeof v[m] === "function",
  );
}

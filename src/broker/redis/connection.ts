import { Cluster, Redis, type RedisOptions } from "ioredis";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import { SCRIPTS, type ScriptName } from "./scripts.js";

// Connections to Redis and the one place Redis errors become domain errors.
//
// Outage behaviour: commands are never queued while Redis is away (enableOfflineQueue false),
// a command in flight when the connection drops fails at once (maxRetriesPerRequest 0), and one
// that gets no answer fails after `commandTimeoutMs`; all of these leave as `unavailable`, which
// the API turns into a 503. The connection itself reconnects forever with a capped backoff, so a
// worker resumes by itself when Redis returns.

/** A connection to a single Redis (or a primary) or to a Redis Cluster; same commands. */
export type RedisClient = Redis | Cluster;

export interface ConnectionSettings {
  url: string;
  /** Connect to a Redis Cluster through the node of `url` (it discovers the others). */
  cluster: boolean;
  /** Fails a command that got no reply in this time (ms). Default 10 000. */
  commandTimeoutMs: number;
  /** How long the first command waits for the initial connection (ms). Default 3 000. */
  connectTimeoutMs: number;
}

/** A typed view of the scripts registered by `defineCommand` (ioredis adds them at runtime). */
export type ScriptCaller = Record<
  `${ScriptName}Buffer`,
  (keys: readonly string[], ...args: (string | number | Buffer)[]) => Promise<unknown>
>;

export function redisOptions(settings: ConnectionSettings, extra: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs,
    connectTimeout: settings.connectTimeoutMs,
    // Reconnect forever: 50 ms, 100 ms, … capped at 1 s.
    retryStrategy: (attempt) => Math.min(attempt * 50, 1_000),
    ...extra,
  };
}

export function createConnection(
  settings: ConnectionSettings,
  extra: RedisOptions = {},
): RedisClient {
  const redis = settings.cluster
    ? clusterConnection(settings, extra)
    : new Redis(settings.url, redisOptions(settings, extra));
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    // numberOfKeys omitted: the keys are passed as the first (array) argument.
    redis.defineCommand(name, { lua, numberOfKeys: 13 });
  }
  // Errors are reported through the commands that fail; an unhandled 'error' event would crash.
  redis.on("error", () => {});
  return redis;
}

/** The same behaviour for a Cluster: no offline queue, commands fail fast, reconnect forever. */
function clusterConnection(settings: ConnectionSettings, extra: RedisOptions): Cluster {
  const url = new URL(settings.url);
  const {
    retryStrategy: _retry,
    enableOfflineQueue,
    lazyConnect: _lazy,
    ...node
  } = redisOptions(settings, extra);
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    lazyConnect: true,
    enableOfflineQueue: enableOfflineQueue ?? false,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 50, 1_000),
    redisOptions: {
      ...node,
      ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
      ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
      ...(url.protocol === "rediss:" ? { tls: {} } : {}),
    },
  });
}

export function scripts(redis: RedisClient): ScriptCaller {
  const untyped = redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const caller: Partial<ScriptCaller> = {};
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    const method = untyped[`${name}Buffer`];
    if (!method) throw new Error(`script ${name} was not registered`);
    caller[`${name}Buffer`] = (keys, ...args) => method.call(redis, ...keys, ...args);
  }
  return caller as ScriptCaller;
}

/**
 * Waits (bounded) for a connection that is still being established; fails fast otherwise.
 * `signal` gives up early (rejecting with `unavailable` too).
 */
export async function whenReady(
  redis: RedisClient,
  timeoutMs: number,
  where: string,
  signal?: AbortSignal,
): Promise<void> {
  if (redis.status === "ready") return;
  if (redis.status === "wait") redis.connect().catch(() => {});
  if (redis.status === "end") throw new UnavailableError(`${where} is closed`);
  if (signal?.aborted) throw new UnavailableError(`${where}: gave up waiting for the connection`);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(
        new UnavailableError(
          `${where} is not reachable (no connection within ${timeoutMs} ms); check that Redis runs and the URL is right`,
        ),
      );
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new UnavailableError(`${where} is closed`));
    };
    const onAbort = () => {
      cleanup();
      reject(new UnavailableError(`${where}: gave up waiting for the connection`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off("ready", onReady);
      redis.off("end", onEnd);
      signal?.removeEventListener("abort", onAbort);
    };
    redis.once("ready", onReady);
    redis.once("end", onEnd);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Whether a failed command may have been applied all the same: it was written to a connection
 * that dropped before the reply came (ioredis rejects what is in flight with
 * MaxRetriesPerRequestError, maxRetriesPerRequest being 0, or with "Connection is closed." once
 * it stops reconnecting), or its reply did not come within commandTimeoutMs. A command refused
 * before it was sent (connection not writable: the offline queue is off) and any Redis reply
 * are known outcomes.
 */
export function outcomeUnknown(error: unknown): boolean {
  if (!(error instanceof Error) || error.name === "ReplyError") return false;
  return (
    error.name === "MaxRetriesPerRequestError" ||
    error.message === "Connection is closed." ||
    error.message === "Command timed out"
  );
}

const UNAVAILABLE_REPLIES =
  /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|MOVED|ASK)\b/;

/**
 * Redis errors as GoTaskQErrors: connectivity (refused, reset, timed out, closed, not writable)
 * and server states that pass (loading, busy script, out of memory, read-only replica, failed
 * persistence) are `unavailable`; other replies are bugs of ours and become `internal`.
 */
export function toDomainError(error: unknown, where: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const isReply = error instanceof Error && error.name === "ReplyError";
  if (!isReply || UNAVAILABLE_REPLIES.test(message)) {
    return new UnavailableError(`${where}: ${message}`, { cause: error });
  }
  return new GoTaskQError("internal", `${where}: ${message}`, { cause: error });
}

/** `redis://user:secret@host` → `redis://user:***@host`, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

import { createHash } from "node:crypto";
import { Redis } from "ioredis";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// The coordination store's connection: how a call is bounded and how Redis errors become domain
// errors.
//
// Outage behaviour: commands are never queued while Redis is away (enableOfflineQueue false) nor
// sent again after a reconnect (autoResendUnfulfilledCommands false: a claim resent blindly
// would find its own value and report someone else's hold), a command in flight when the
// connection drops fails at once (maxRetriesPerRequest 0), and one without a reply fails after
// the operation timeout (commandTimeout). A call made while the connection is down waits for it
// to come back, so a Redis restart of a second is ridden through, but the whole call, that wait
// and a NOSCRIPT round trip included, is bounded by one deadline of `operationTimeoutMs`, after
// which it rejects with `unavailable`. The connection reconnects forever with a capped backoff.

export function createClient(connectUrl: string, operationTimeoutMs: number): Redis {
  const client = new Redis(connectUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    maxRetriesPerRequest: 0,
    commandTimeout: operationTimeoutMs,
    connectTimeout: operationTimeoutMs,
    // 50 ms, 100 ms, … capped at 1 s.
    retryStrategy: (attempt: number) => Math.min(attempt * 50, 1_000),
  });
  // Failures reach callers through the commands that fail; an unhandled 'error' event would
  // crash the process.
  client.on("error", () => {});
  return client;
}

/**
 * Runs `body` once the connection is ready, the whole within `timeoutMs`: otherwise, or when
 * anything fails, rejects with a domain error (`unavailable` for connectivity).
 */
export async function withinDeadline<T>(
  client: Redis,
  timeoutMs: number,
  where: string,
  body: () => Promise<T>,
): Promise<T> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(
        new UnavailableError(
          `${where} did not answer within ${timeoutMs} ms; check that Redis runs and the URL is right`,
        ),
      );
    }, timeoutMs);
  });
  try {
    return await Promise.race([
      (async () => {
        await whenReady(client, where, abort.signal);
        return await body();
      })(),
      deadline,
    ]);
  } catch (error) {
    throw toDomainError(error, where);
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** Resolves once the client is connected; rejects when it was closed. */
function whenReady(client: Redis, where: string, signal: AbortSignal): Promise<void> {
  if (client.status === "ready") return Promise.resolve();
  if (client.status === "end") return Promise.reject(new UnavailableError(`${where} is closed`));
  if (client.status === "wait") client.connect().catch(() => {});
  return new Promise<void>((resolve, reject) => {
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(new UnavailableError(`${where} is closed`));
    };
    // The deadline has rejected the call already; this only drops the listeners.
    const onAbort = () => cleanup();
    const cleanup = () => {
      client.off("ready", onReady);
      client.off("end", onEnd);
      signal.removeEventListener("abort", onAbort);
    };
    client.once("ready", onReady);
    client.once("end", onEnd);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A Lua script sent by its SHA1, and in full once when the server does not know it yet. */
export class CoordinationScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(
    client: Redis,
    keys: readonly string[],
    args: readonly (string | number | Buffer)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await client.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// Error replies that describe the server's state, not our request: worth retrying later.
const UNAVAILABLE_REPLIES =
  /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF|MOVED|ASK)\b/;

/**
 * Connectivity (refused, reset, timed out, closed, not writable) and passing server states
 * (loading, busy script, out of memory, read-only replica) are `unavailable`; any other reply is
 * a bug of ours (a script error) and becomes `internal`.
 */
export function toDomainError(error: unknown, where: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const message = error instanceof Error ? error.message : String(error);
  // ioredis's ReplyError is exported untyped; its name is stable.
  const isReply = error instanceof Error && error.name === "ReplyError";
  if (!isReply || UNAVAILABLE_REPLIES.test(message)) {
    return new UnavailableError(`${where}: ${message}`, { cause: error });
  }
  return new GoTaskQError("internal", `${where}: ${message}`, { cause: error });
}

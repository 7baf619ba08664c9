import { InvalidArgumentError } from "../../core/errors.js";

// The Redis coordination store's settings: one documented type, defaults applied in one pure
// function, and the URL form the CLI passes:
//
//   redis://[user:password@]host[:port][/db][?prefix=gotaskq]
//   rediss://…  (TLS)
//
// `prefix` is ours and taken out of the URL; every other query parameter goes to ioredis as is.

export interface RedisCoordinationOptions {
  /**
   * The deployment prefix: every key is `{<prefix>}:coord:…`. Letters, digits and `_.:-`,
   * 1–64 chars (braces are the Cluster hash tag around it); default "gotaskq".
   */
  prefix?: string;
  /**
   * The longest any call may take, waiting for the connection included, before it rejects
   * with `unavailable` (ms); 100–600,000, default 5,000.
   */
  operationTimeoutMs?: number;
}

export type ResolvedRedisCoordinationOptions = Required<RedisCoordinationOptions>;

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

export function resolveRedisCoordinationOptions(
  options: RedisCoordinationOptions,
): ResolvedRedisCoordinationOptions {
  const prefix = options.prefix ?? "gotaskq";
  if (!PREFIX.test(prefix)) {
    throw new InvalidArgumentError(
      `Redis coordination prefix must be 1–64 letters, digits or _.:- (got ${JSON.stringify(prefix)})`,
    );
  }
  const operationTimeoutMs = options.operationTimeoutMs ?? 5_000;
  if (
    !Number.isInteger(operationTimeoutMs) ||
    operationTimeoutMs < 100 ||
    operationTimeoutMs > 600_000
  ) {
    throw new InvalidArgumentError(
      `Redis coordination operationTimeoutMs must be an integer between 100 and 600000 (got ${operationTimeoutMs})`,
    );
  }
  return { prefix, operationTimeoutMs };
}

/** Splits a coordination URL into what ioredis connects to and our options. */
export function parseRedisCoordinationUrl(url: string): {
  connectUrl: string;
  options: RedisCoordinationOptions;
} {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      `GOTASKQ_COORDINATION_URL is not a valid URL; use e.g. redis://127.0.0.1:6379?prefix=gotaskq`,
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new InvalidArgumentError(
      `a Redis coordination URL starts with redis:// or rediss:// (got ${parsed.protocol}//…)`,
    );
  }
  const prefix = parsed.searchParams.get("prefix");
  parsed.searchParams.delete("prefix");
  return { connectUrl: parsed.toString(), options: prefix !== null ? { prefix } : {} };
}

/** `redis://user:secret@host` → `redis://user:***@host`, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

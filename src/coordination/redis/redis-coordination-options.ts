import { InvalidArgumentError } from "../../core/errors.js";
import { resolveStoreOptions } from "../arguments.js";

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

export function resolveRedisCoordinationOptions(
  options: RedisCoordinationOptions,
): ResolvedRedisCoordinationOptions {
  return resolveStoreOptions("Redis", options);
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

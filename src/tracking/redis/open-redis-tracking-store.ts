import { Redis } from "ioredis";
import {
  parseRedisTrackingUrl,
  type RedisTrackingOptions,
  resolveRedisTrackingOptions,
} from "./redis-tracking-options.js";
import { RedisTrackingStore } from "./redis-tracking-store.js";

// The ioredis client the store runs on, configured for best-effort tracking: never queue
// commands while disconnected (enableOfflineQueue: false, no retry of a command in flight when
// the connection drops), bound every command (commandTimeout), and reconnect in the background
// forever. While Redis is down every call then fails at once as `unavailable`, and the
// best-effort writer's bounded buffer is the only place events wait.

/** The URL without credentials or query, for messages and logs. */
function describeTarget(connectUrl: string): string {
  const url = new URL(connectUrl);
  url.password = "";
  url.username = "";
  url.search = "";
  return url.toString();
}

/**
 * Opens the Redis tracking store named by `url` (redis-tracking-options.ts lists the URL
 * options; `options` overrides them). The connection opens in the background: call `migrate()`
 * first, which waits for it (up to the connect timeout) and checks the server.
 */
export function openRedisTrackingStore(
  url: string,
  options: RedisTrackingOptions = {},
): RedisTrackingStore {
  const { connectUrl, options: fromUrl } = parseRedisTrackingUrl(url);
  const resolved = resolveRedisTrackingOptions({ ...fromUrl, ...options });
  const client = new Redis(connectUrl, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: resolved.commandTimeoutMs,
    connectTimeout: resolved.connectTimeoutMs,
    // Reconnect forever in the background, backing off to one attempt every 2 s.
    retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000),
  });
  return new RedisTrackingStore(client, resolved, describeTarget(connectUrl));
}

/** The URL schemes `open` understands (backends/open.ts routes them here). */
export const SCHEMES: readonly string[] = ["redis:", "rediss:"];

/**
 * Opens the store a URL names and migrates it, which waits for the connection and checks the
 * server; a store that cannot be migrated is closed before the error is thrown.
 */
export async function open(url: string): Promise<RedisTrackingStore> {
  const store = openRedisTrackingStore(url);
  try {
    await store.migrate();
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

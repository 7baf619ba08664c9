import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";

// Test namespaces on a shared Redis: every test client works under its own key prefix, and the
// test deletes exactly the keys under it afterwards (never FLUSHDB: other suites and helpers use
// the same server).

export function uniquePrefix(): string {
  return `gtqtest-${randomBytes(5).toString("hex")}`;
}

export async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true });
  await redis.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

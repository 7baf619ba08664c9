import { Redis } from "ioredis";

// Test prefixes on the shared Redis: unique per run (time and pid) so parallel test files and
// other developers' runs never meet, and removable afterwards by pattern.

/** `gotaskq-test-<time base 36>-<pid>`: the time lets a later run spot leftovers of a crash. */
export function testPrefix(name: string): string {
  return `gotaskq-test-${Date.now().toString(36)}-${process.pid}-${name}`;
}

/** Deletes every key whose name starts with `pattern` (a SCAN MATCH glob). Returns how many. */
export async function deleteKeys(url: string, pattern: string): Promise<number> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    let deleted = 0;
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** Glob of every key of a tracking store with this prefix (keys are `{<prefix>}:t:…`). */
export function trackingKeys(prefix: string): string {
  return `{${prefix}}:t:*`;
}

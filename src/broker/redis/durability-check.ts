import type { RedisClient } from "./connection.js";

// Start-up check of the Redis settings a broker depends on. A broker whose data Redis may evict
// (maxmemory-policy other than noeviction) or lose on restart (no AOF and no RDB snapshots)
// silently loses accepted tasks, so each client checks once and warns, naming the setting to
// change. Managed services often disable CONFIG; then there is nothing to check and no warning.

const warnedServers = new Set<string>();

export async function checkDurability(
  redis: RedisClient,
  where: string,
  warn: (message: string) => void,
): Promise<void> {
  if (warnedServers.has(where)) return;
  let settings: Map<string, string>;
  try {
    const reply = (await Promise.all(
      ["maxmemory-policy", "appendonly", "save"].map((name) => redis.config("GET", name)),
    )) as unknown as string[][];
    settings = new Map(reply.map((pair) => [pair[0] ?? "", pair[1] ?? ""]));
  } catch {
    return; // CONFIG renamed or forbidden: the operator owns the settings.
  }
  warnedServers.add(where);
  for (const problem of durabilityProblems(settings)) warn(`${where}: ${problem}`);
}

/** The warnings for these CONFIG GET values (exported for tests). */
export function durabilityProblems(settings: ReadonlyMap<string, string>): string[] {
  const problems: string[] = [];
  const policy = settings.get("maxmemory-policy");
  if (policy !== undefined && policy !== "noeviction") {
    problems.push(
      `maxmemory-policy is "${policy}": when memory is full Redis evicts keys, including queued tasks. ` +
        "Set `maxmemory-policy noeviction` in redis.conf (or CONFIG SET maxmemory-policy noeviction) so Redis refuses writes instead.",
    );
  }
  const aof = settings.get("appendonly");
  const save = settings.get("save");
  if (aof === "no" && save !== undefined && save.trim() === "") {
    problems.push(
      'persistence is off (appendonly no, save ""): a Redis restart loses every queued task. ' +
        "Set `appendonly yes` with `appendfsync everysec` (or `always` to lose nothing on a crash) in redis.conf (or CONFIG SET appendonly yes).",
    );
  }
  return problems;
}

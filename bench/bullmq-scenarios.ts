import { type ConnectionOptions, Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { ChildSpec, NoopPayload } from "./protocol.js";
import { batches, deferred, type PreparedRole } from "./role.js";

// BullMQ's side of every scenario, configured the way an experienced BullMQ user runs it for
// throughput: `addBulk` (one MULTI of Lua calls per batch), one Worker with `concurrency` (BullMQ
// fetches the next job in the same round trip that completes the previous one), completed and
// failed jobs removed at once (`removeOnComplete`/`removeOnFail: true`, so Redis does not grow by
// 100k hashes), metrics off (the default), stalled-job checks and lock renewal left ON because
// GoTaskQ keeps its lease machinery too. Keys live under a fresh prefix that the orchestrator
// deletes afterwards (SCAN + UNLINK of that prefix only; never FLUSHALL).

type BullTarget = Extract<ChildSpec["target"], { system: "bullmq" }>;

const JOB_NAME = "noop";

function connectionOf(redisUrl: string, forWorker: boolean): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    // BullMQ requires null for the worker's blocking connection; a producer fails fast instead.
    maxRetriesPerRequest: forWorker ? null : 1,
  };
}

function targetOf(spec: ChildSpec): BullTarget {
  if (spec.target.system !== "bullmq") throw new Error("bullmq-scenarios: wrong target");
  return spec.target;
}

async function prepareProducer(spec: ChildSpec, target: BullTarget): Promise<PreparedRole> {
  const queue = new Queue<NoopPayload, void, string>(spec.queue, {
    connection: connectionOf(target.redisUrl, false),
    prefix: target.prefix,
    defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
  });
  await queue.waitUntilReady();
  return {
    async run() {
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const jobs: { name: string; data: NoopPayload }[] = [];
        for (let n = start; n < end; n++) jobs.push({ name: JOB_NAME, data: { n } });
        await queue.addBulk(jobs);
      }
      return { count: spec.tasks };
    },
    close: () => queue.close(),
  };
}

async function prepareWorker(spec: ChildSpec, target: BullTarget): Promise<PreparedRole> {
  const finished = deferred<void>();
  let completed = 0;
  let failed = 0;
  const worker = new Worker<NoopPayload, void, string>(
    spec.queue,
    async (job) => {
      // The no-op: read the payload as GoTaskQ's handler receives it, return nothing.
      if (typeof job.data.n !== "number") throw new Error("bench: payload without n");
    },
    {
      connection: connectionOf(target.redisUrl, true),
      prefix: target.prefix,
      concurrency: spec.concurrency,
      autorun: false,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    },
  );
  worker.on("completed", () => {
    completed++;
    if (completed === spec.tasks) finished.resolve();
  });
  worker.on("failed", () => {
    failed++;
  });
  worker.on("error", (error) => finished.reject(error));
  await worker.waitUntilReady();
  return {
    async run() {
      worker.run().catch((error: unknown) => finished.reject(error));
      await finished.promise;
      return { count: completed, details: { failed } };
    },
    close: () => worker.close(),
  };
}

export async function prepareBullMQ(spec: ChildSpec): Promise<PreparedRole> {
  const target = targetOf(spec);
  return spec.role === "producer" ? prepareProducer(spec, target) : prepareWorker(spec, target);
}

/** Whether Redis answers PING within a second; the orchestrator skips BullMQ when it does not. */
export async function redisReachable(redisUrl: string): Promise<boolean> {
  const client = new Redis(redisUrl, {
    lazyConnect: true,
    connectTimeout: 1_000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Deletes every key under `prefix:` (this run's BullMQ queues) and returns how many. */
export async function deleteBullKeys(redisUrl: string, prefix: string): Promise<number> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== "0");
    return deleted;
  } finally {
    client.disconnect();
  }
}

/** Redis's server version and persistence settings, for the report's caveats. */
export async function describeRedis(redisUrl: string): Promise<string> {
  const client = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const info = await client.info("server");
    const version = /redis_version:(\S+)/.exec(info)?.[1] ?? "?";
    const aof = ((await client.config("GET", "appendonly")) as string[])[1] ?? "?";
    const save = ((await client.config("GET", "save")) as string[])[1] ?? "?";
    return `Redis ${version} (appendonly ${aof}, save ${JSON.stringify(save)})`;
  } catch {
    return "Redis (version unknown)";
  } finally {
    client.disconnect();
  }
}

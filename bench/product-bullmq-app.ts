import { type ConnectionOptions, Queue, Worker } from "bullmq";
import { serveApp } from "./product-app-ipc.js";
import type { RestLoad } from "./product-clients.js";

// BullMQ run as its users run it, the reference of the product phase: `role` "app" is one process
// with a Queue and a Worker (what `gotaskq dev` is compared with), "producer" and "worker" are
// separate processes (the server + worker cells). The producer submits in the same shapes as the
// REST clients: sequential `addBulk` of 1,000 per client, or single `add` calls with N in flight.
// Finished jobs are removed (`removeOnComplete`/`removeOnFail`), as the queue phase does, so Redis
// does not grow by every job; the worker's no-op reads the payload and returns. Keys live under
// the run's prefix, deleted by the orchestrator (never FLUSHALL).

export interface BullAppSpec {
  role: "app" | "producer" | "worker";
  redisUrl: string;
  prefix: string;
  queue: string;
  tasks: number;
  concurrency: number;
  load: RestLoad;
}

interface Payload {
  i: number;
}

function connectionOf(redisUrl: string, forWorker: boolean): ConnectionOptions {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.pathname.length > 1 ? { db: Number(url.pathname.slice(1)) } : {}),
    maxRetriesPerRequest: forWorker ? null : 1,
  };
}

async function submit(queue: Queue<Payload, void, string>, spec: BullAppSpec): Promise<number> {
  let next = 0;
  const { load, tasks } = spec;
  if (load.kind === "batches") {
    const client = async () => {
      for (let start = next; start < tasks; start = next) {
        next = Math.min(tasks, start + 1_000);
        const jobs = [];
        for (let i = start; i < next; i++) jobs.push({ name: "echo", data: { i } });
        await queue.addBulk(jobs);
      }
    };
    await Promise.all(Array.from({ length: load.clients }, client));
  } else {
    const lane = async () => {
      for (let i = next++; i < tasks; i = next++) await queue.add("echo", { i });
    };
    await Promise.all(Array.from({ length: Math.min(load.inFlight, tasks) }, lane));
  }
  return tasks;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as BullAppSpec;
  const queue =
    spec.role === "worker"
      ? undefined
      : new Queue<Payload, void, string>(spec.queue, {
          connection: connectionOf(spec.redisUrl, false),
          prefix: spec.prefix,
          defaultJobOptions: { removeOnComplete: true, removeOnFail: true },
        });
  const worker =
    spec.role === "producer"
      ? undefined
      : new Worker<Payload, void, string>(
          spec.queue,
          async (job) => {
            if (typeof job.data.i !== "number") throw new Error("bench: payload without i");
          },
          {
            connection: connectionOf(spec.redisUrl, true),
            prefix: spec.prefix,
            concurrency: spec.concurrency,
          },
        );
  await Promise.all([queue?.waitUntilReady(), worker?.waitUntilReady()]);
  serveApp({
    ...(queue
      ? {
          submit: () => submit(queue, spec),
          async counts() {
            const c = await queue.getJobCounts(
              "wait",
              "prioritized",
              "active",
              "delayed",
              "failed",
            );
            return {
              ready: (c.wait ?? 0) + (c.prioritized ?? 0),
              inFlight: c.active ?? 0,
              delayed: c.delayed ?? 0,
              deadLettered: c.failed ?? 0,
            };
          },
        }
      : {}),
    async close() {
      await worker?.close();
      await queue?.close();
    },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`bullmq app failed: ${String(error)}\n`);
  process.exit(1);
});

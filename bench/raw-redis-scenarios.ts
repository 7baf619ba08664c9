import { Redis } from "ioredis";
import { noopEnvelope } from "./noop-envelope.js";
import type { ChildSpec } from "./protocol.js";
import { batches, deferred, type PreparedRole } from "./role.js";

// The raw ceiling of the Redis Streams broker: ioredis used the way an expert would
// for the same job, with nothing of GoTaskQ above it. Same message bytes (a real v1 envelope),
// one stream per queue with a consumer group. A publish batch is one pipeline of XADDs (one
// round trip). The consumer reads with XREADGROUP … COUNT <free slots> BLOCK on a connection of
// its own, runs the no-op handler, and acks everything that finished in the tick with one XACK
// on a second connection. No priorities, delays, leases, DLQ, poison counting or tracking: what
// GoTaskQ adds costs the difference between this column and GoTaskQ's.

type RawTarget = Extract<ChildSpec["target"], { system: "raw" }>;

const GROUP = "raw";

function targetOf(spec: ChildSpec): RawTarget {
  if (spec.target.system !== "raw" || spec.target.backend !== "redis")
    throw new Error("raw-redis-scenarios: wrong target");
  return spec.target;
}

/** The stream key and a connection (the URL's `prefix` parameter is ours). */
function connect(spec: ChildSpec): { stream: string; open: () => Redis } {
  const url = new URL(targetOf(spec).url);
  const prefix = url.searchParams.get("prefix") ?? "raw";
  url.searchParams.delete("prefix");
  return {
    stream: `${prefix}:{${spec.queue}}:stream`,
    open: () => new Redis(url.toString(), { maxRetriesPerRequest: null }),
  };
}

function prepareProducer(spec: ChildSpec): PreparedRole {
  const { stream, open } = connect(spec);
  const redis = open();
  const createdAt = new Date().toISOString();
  return {
    async run() {
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const pipeline = redis.pipeline();
        for (let n = start; n < end; n++) {
          const body = noopEnvelope({ n, queue: spec.queue, createdAt });
          pipeline.xadd(
            stream,
            "*",
            "b",
            Buffer.from(body.buffer, body.byteOffset, body.byteLength),
          );
        }
        const results = await pipeline.exec();
        const failed = results?.find(([error]) => error);
        if (failed) throw failed[0];
      }
      return { count: spec.tasks };
    },
    async close() {
      redis.disconnect();
    },
  };
}

async function prepareWorker(spec: ChildSpec): Promise<PreparedRole> {
  const { stream, open } = connect(spec);
  const reader = open();
  const acker = open();
  await acker.xgroup("CREATE", stream, GROUP, "0", "MKSTREAM").catch((error: Error) => {
    if (!error.message.includes("BUSYGROUP")) throw error;
  });
  const handler = async (payload: unknown): Promise<void> => {
    if (typeof payload !== "object" || payload === null) throw new Error("bench: bad payload");
  };
  const finished = deferred<void>();
  let inFlight = 0;
  let completed = 0;
  let acks: string[] = [];
  let ackScheduled = false;
  let slotWaiter: (() => void) | undefined;
  const flushAcks = () => {
    ackScheduled = false;
    const ids = acks;
    acks = [];
    acker.xack(stream, GROUP, ...ids).then(() => {
      completed += ids.length;
      if (completed >= spec.tasks) finished.resolve();
    }, finished.reject);
  };
  return {
    async run() {
      void (async () => {
        while (completed + inFlight + acks.length < spec.tasks) {
          const free = spec.concurrency - inFlight;
          if (free <= 0) {
            await new Promise<void>((resolve) => {
              slotWaiter = resolve;
            });
            continue;
          }
          const reply = (await reader.callBuffer(
            "XREADGROUP",
            "GROUP",
            GROUP,
            "c1",
            "COUNT",
            free,
            "BLOCK",
            1_000,
            "STREAMS",
            stream,
            ">",
          )) as [Buffer, [Buffer, Buffer[]][]][] | null;
          for (const [id, fields] of reply?.[0]?.[1] ?? []) {
            inFlight++;
            const envelope = JSON.parse((fields[1] as Buffer).toString("utf8")) as {
              payload: unknown;
            };
            handler(envelope.payload).then(() => {
              inFlight--;
              acks.push(id.toString());
              if (!ackScheduled) {
                ackScheduled = true;
                setImmediate(flushAcks);
              }
              const waiter = slotWaiter;
              slotWaiter = undefined;
              waiter?.();
            }, finished.reject);
          }
        }
      })().catch(finished.reject);
      await finished.promise;
      return { count: completed };
    },
    async close() {
      reader.disconnect();
      acker.disconnect();
    },
  };
}

export async function prepareRaw(spec: ChildSpec): Promise<PreparedRole> {
  return spec.role === "producer" ? prepareProducer(spec) : prepareWorker(spec);
}

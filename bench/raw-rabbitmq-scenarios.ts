import amqp, { type Channel, type ConsumeMessage } from "amqplib";
import { newTaskId } from "../src/core/ids.js";
import { noopEnvelope } from "./noop-envelope.js";
import type { ChildSpec } from "./protocol.js";
import { batches, deferred, type PreparedRole } from "./role.js";

// The raw ceiling of RabbitMQ: amqplib used the way an expert would for the same job,
// with nothing of GoTaskQ above it. The producer has a connection of its own and a confirm
// channel: each batch of persistent messages goes out without waiting, then one wait for all its
// confirms. The worker has its own connection, prefetch = concurrency, runs the no-op handler on
// each message and acks what finished with one `multiple` ack per turn of the event loop (the
// highest tag of the run completed in order; a plain ack for any that finished out of order).
// The queue is declared like GoTaskQ's (durable, classic, x-max-priority 9) and carries the same
// envelope bytes. No tracking, no decoding checks, no retries: what GoTaskQ adds costs the
// difference between this column and GoTaskQ's.

type RawTarget = Extract<ChildSpec["target"], { system: "raw" }>;

function targetOf(spec: ChildSpec): RawTarget {
  if (spec.target.system !== "raw" || spec.target.backend !== "rabbitmq")
    throw new Error("raw-rabbitmq-scenarios: wrong target");
  return spec.target;
}

/** The bench backend hands GoTaskQ's URL; the raw ceiling uses its `prefix` for its queue name. */
function connectionOf(url: string): { url: string; queueName: (queue: string) => string } {
  const parsed = new URL(url);
  const prefix = parsed.searchParams.get("prefix") ?? "";
  parsed.searchParams.delete("prefix");
  return { url: parsed.toString(), queueName: (queue) => `${prefix}${queue}` };
}

async function declare(channel: Channel, queue: string): Promise<void> {
  await channel.assertQueue(queue, { durable: true, arguments: { "x-max-priority": 9 } });
}

async function prepareProducer(spec: ChildSpec, url: string, queue: string): Promise<PreparedRole> {
  const connection = await amqp.connect(url);
  connection.on("error", () => undefined);
  const channel = await connection.createConfirmChannel();
  await declare(channel, queue);
  const createdAt = new Date().toISOString();
  return {
    async run() {
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        for (let n = start; n < end; n++) {
          const id = newTaskId();
          const body = noopEnvelope({ n, queue: spec.queue, createdAt, id });
          const flushed = channel.sendToQueue(
            queue,
            Buffer.from(body.buffer, body.byteOffset, body.byteLength),
            {
              persistent: true,
              mandatory: true,
              messageId: id,
              priority: 5,
            },
          );
          if (!flushed) await new Promise<void>((resolve) => channel.once("drain", resolve));
        }
        await channel.waitForConfirms();
      }
      return { count: spec.tasks };
    },
    async close() {
      await connection.close().catch(() => undefined);
    },
  };
}

async function prepareWorker(spec: ChildSpec, url: string, queue: string): Promise<PreparedRole> {
  const connection = await amqp.connect(url);
  connection.on("error", () => undefined);
  const channel = await connection.createChannel();
  await declare(channel, queue);
  await channel.prefetch(spec.concurrency);
  const handler = async (payload: unknown): Promise<void> => {
    if (typeof payload !== "object" || payload === null) throw new Error("bench: bad payload");
  };
  const allAcked = deferred<void>();
  let completed = 0;
  // Grouped acks: tags finished since the last flush; the lowest tag not yet finished.
  const finished = new Set<number>();
  let lowest = 1;
  let flushScheduled = false;
  const flush = () => {
    flushScheduled = false;
    let top = 0;
    while (finished.delete(lowest)) top = lowest++;
    if (top > 0) channel.ack({ fields: { deliveryTag: top } } as ConsumeMessage, true);
    for (const tag of finished) {
      channel.ack({ fields: { deliveryTag: tag } } as ConsumeMessage, false);
    }
    // Out-of-order tags acked singly above count as done for the run that later reaches them.
    for (const tag of finished) doneOutOfOrder.add(tag);
    finished.clear();
    while (doneOutOfOrder.delete(lowest)) lowest++;
  };
  const doneOutOfOrder = new Set<number>();
  const done = (tag: number) => {
    finished.add(tag);
    if (++completed === spec.tasks) {
      setImmediate(() => {
        flush();
        allAcked.resolve();
      });
    }
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  };
  return {
    async run() {
      await channel.consume(
        queue,
        (message) => {
          if (!message) return;
          const envelope = JSON.parse(message.content.toString("utf8")) as { payload: unknown };
          handler(envelope.payload).then(() => done(message.fields.deliveryTag));
        },
        { noAck: false },
      );
      await allAcked.promise;
      return { count: completed };
    },
    async close() {
      await connection.close().catch(() => undefined);
    },
  };
}

export async function prepareRaw(spec: ChildSpec): Promise<PreparedRole> {
  const { url, queueName } = connectionOf(targetOf(spec).url);
  const queue = queueName(spec.queue);
  return spec.role === "producer"
    ? prepareProducer(spec, url, queue)
    : prepareWorker(spec, url, queue);
}

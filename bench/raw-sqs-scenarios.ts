import { Agent } from "node:http";
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { noopEnvelope } from "./noop-envelope.js";
import type { ChildSpec } from "./protocol.js";
import { batches, type PreparedRole, type PrepareRole } from "./role.js";

// The raw ceiling of the SQS backend: @aws-sdk/client-sqs against the same emulator,
// used as an expert would for the same job, with nothing of GoTaskQ above it. Producer: each
// publish batch goes out as SendMessageBatch calls of 10, 16 in flight. Worker: concurrency / 10
// receive loops, each long-polling for 10, running the no-op handler on each message, deleting
// the batch with one DeleteMessageBatch while it already polls for the next. Same envelope bytes
// as GoTaskQ's (a real v1 envelope), same keep-alive HTTP agent. No tracking, no attributes, no
// lease extension, no retries of partial failures.

const encoder = new TextDecoder();

function targetOf(spec: ChildSpec): { endpoint: string; region: string; prefix: string } {
  if (spec.target.system !== "raw" || spec.target.backend !== "sqs")
    throw new Error("raw-sqs-scenarios: wrong target");
  const params = new URLSearchParams(spec.target.url.replace(/^sqs:\/\/[^?]*\?/, ""));
  return {
    endpoint: params.get("endpoint") ?? "",
    region: params.get("region") ?? "us-east-1",
    prefix: params.get("prefix") ?? "",
  };
}

function client(target: { endpoint: string; region: string }): SQSClient {
  return new SQSClient({
    region: target.region,
    endpoint: target.endpoint,
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    requestHandler: { httpAgent: new Agent({ keepAlive: true, maxSockets: 256 }) },
  });
}

function prepareProducer(spec: ChildSpec, sqs: SQSClient, url: string): PreparedRole {
  const createdAt = new Date().toISOString();
  return {
    async run() {
      for (const [start, end] of batches(spec.tasks, spec.batchSize)) {
        const bodies: string[] = [];
        for (let n = start; n < end; n++) {
          const envelope = noopEnvelope({ n, queue: spec.queue, createdAt });
          bodies.push(encoder.decode(envelope));
        }
        const calls: string[][] = [];
        for (let i = 0; i < bodies.length; i += 10) calls.push(bodies.slice(i, i + 10));
        let next = 0;
        const lane = async (): Promise<void> => {
          for (let c = calls[next++]; c; c = calls[next++]) {
            const out = await sqs.send(
              new SendMessageBatchCommand({
                QueueUrl: url,
                Entries: c.map((body, i) => ({ Id: String(i), MessageBody: body })),
              }),
            );
            if (out.Failed?.length) throw new Error(`raw sqs: ${out.Failed.length} sends failed`);
          }
        };
        await Promise.all(Array.from({ length: Math.min(16, calls.length) }, lane));
      }
      return { count: spec.tasks };
    },
    async close() {
      sqs.destroy();
    },
  };
}

function prepareWorker(spec: ChildSpec, sqs: SQSClient, url: string): PreparedRole {
  const handler = async (payload: unknown): Promise<void> => {
    if (typeof payload !== "object" || payload === null) throw new Error("bench: bad payload");
  };
  const controller = new AbortController();
  return {
    async run() {
      let completed = 0;
      let done: () => void = () => {};
      const finished = new Promise<void>((resolve) => {
        done = resolve;
      });
      const loop = async (): Promise<void> => {
        while (completed < spec.tasks) {
          const out = await sqs
            .send(
              new ReceiveMessageCommand({
                QueueUrl: url,
                MaxNumberOfMessages: 10,
                WaitTimeSeconds: 20,
              }),
              { abortSignal: controller.signal },
            )
            .catch((error: unknown) => {
              if (controller.signal.aborted) return { Messages: [] };
              throw error;
            });
          const messages = out.Messages ?? [];
          if (messages.length === 0) continue;
          await Promise.all(
            messages.map((m) =>
              handler((JSON.parse(m.Body ?? "{}") as { payload: unknown }).payload),
            ),
          );
          // Delete while the loop already asks for the next batch (prefetch stays ≤ concurrency
          // because the loop waits for its handlers, not for the delete).
          void sqs
            .send(
              new DeleteMessageBatchCommand({
                QueueUrl: url,
                Entries: messages.map((m, i) => ({
                  Id: String(i),
                  ReceiptHandle: m.ReceiptHandle,
                })),
              }),
            )
            .then(() => {
              completed += messages.length;
              if (completed >= spec.tasks) done();
            });
        }
      };
      const loops = Array.from({ length: Math.max(1, Math.ceil(spec.concurrency / 10)) }, loop);
      await finished;
      controller.abort();
      await Promise.allSettled(loops);
      return { count: completed };
    },
    async close() {
      controller.abort();
      sqs.destroy();
    },
  };
}

export const prepareRaw: PrepareRole = async (spec) => {
  const target = targetOf(spec);
  const sqs = client(target);
  const out = await sqs.send(
    new CreateQueueCommand({ QueueName: `${target.prefix}${spec.queue}` }),
  );
  const url = out.QueueUrl ?? "";
  return spec.role === "producer" ? prepareProducer(spec, sqs, url) : prepareWorker(spec, sqs, url);
};

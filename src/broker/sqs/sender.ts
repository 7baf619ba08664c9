import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { Attributes } from "./codec.js";
import { sqsSize } from "./codec.js";
import type { SqsClients } from "./sdk.js";
import { toDomainError } from "./sdk.js";

// Sends messages to one SQS queue with SendMessageBatch: 10 entries per call and no more bytes
// per call than one message may have (SQS's batch limit), up to 16 calls in flight. A partial
// failure is handled item by item: entries SQS failed on its side are sent again (3 attempts);
// the call resolves only when every entry is stored, else it rejects naming what was not sent.

export interface SqsEntry {
  id: string;
  text: string;
  attributes: Attributes;
  delaySeconds: number;
  /** FIFO queues: the message group (order is kept within it). */
  groupId?: string;
}

const BATCH = 10;
const PARALLEL = 16;
const MAX_ATTEMPTS = 3;

function chunk(entries: readonly SqsEntry[], maxBytes: number): SqsEntry[][] {
  const chunks: SqsEntry[][] = [];
  let current: SqsEntry[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const size = sqsSize(entry);
    if (current.length === BATCH || (current.length > 0 && bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export async function sendAll(
  clients: SqsClients,
  url: string,
  entries: readonly SqsEntry[],
  maxBatchBytes: number,
): Promise<void> {
  let queue = chunk(entries, maxBatchBytes);
  const notSent: { id: string; why: string }[] = [];
  let firstError: unknown;
  for (let attempt = 1; queue.length > 0 && attempt <= MAX_ATTEMPTS; attempt++) {
    const retry: SqsEntry[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      for (;;) {
        const batch = queue[next++];
        if (!batch) return;
        try {
          const out = await clients.calls.send(
            new SendMessageBatchCommand({
              QueueUrl: url,
              Entries: batch.map((e, i) => ({
                Id: String(i),
                MessageBody: e.text,
                MessageAttributes: e.attributes,
                ...(e.groupId !== undefined
                  ? // A fresh deduplication id: a retry or requeue must never be swallowed.
                    { MessageGroupId: e.groupId, MessageDeduplicationId: randomUUID() }
                  : e.delaySeconds > 0
                    ? { DelaySeconds: e.delaySeconds }
                    : {}),
              })),
            }),
          );
          for (const failure of out.Failed ?? []) {
            const entry = batch[Number(failure.Id)];
            if (!entry) continue;
            if (failure.SenderFault)
              notSent.push({ id: entry.id, why: `${failure.Code}: ${failure.Message}` });
            else retry.push(entry);
          }
        } catch (error) {
          firstError ??= error;
          for (const entry of batch)
            notSent.push({ id: entry.id, why: String((error as Error).message) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, queue.length) }, worker));
    if (retry.length > 0 && attempt === MAX_ATTEMPTS) {
      for (const entry of retry) notSent.push({ id: entry.id, why: "SQS failed it 3 times" });
    }
    queue = chunk(retry, maxBatchBytes);
    if (queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
  if (notSent.length === 0) return;
  if (firstError !== undefined && notSent.length === entries.length) {
    throw toDomainError(firstError, `sending ${entries.length} messages`);
  }
  const sample = notSent
    .slice(0, 5)
    .map((n) => `${n.id} (${n.why})`)
    .join(", ");
  const message = `sqs broker: ${notSent.length} of ${entries.length} messages were not sent, the others were: ${sample}${notSent.length > 5 ? ", …" : ""}`;
  if (firstError !== undefined) throw new UnavailableError(message, { cause: firstError });
  throw new GoTaskQError("internal", message);
}

import { GetQueueAttributesCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { InvalidArgumentError } from "../../core/errors.js";
import {
  DEAD_LETTER_REASONS,
  type DeadLetterEntry,
  type DeadLetterPage,
  type DeadLetterQueue,
  type DeadLetterReason,
  type DeadLetterSelector,
  type OutgoingMessage,
} from "../broker.js";
import { decodeMessage, encodeMessage, type ReceivedMessage } from "./codec.js";
import type { SqsContext } from "./context.js";
import { toDomainError } from "./sdk.js";

// A queue's DLQ is one SQS queue (d_<queue>) that receives both GoTaskQ's own dead letters (reason,
// detail and time in message attributes) and what the native redrive policy moves there when a
// message was received maxReceiveCount times without being settled — listed as `poison`.
//
// SQS cannot browse a queue, so listing and requeue work on a scan: receive every message of the
// DLQ (up to 10 000) with a 30 s visibility, sort them by (dead-lettered at, message id), answer,
// and make the ones not requeued visible again at once. The cursor is the last entry's sort key,
// so pages stay stable while entries are added or requeued. Two scans of the same DLQ at the same
// moment see part of it each (the other holds the rest for a moment); the counts in `stats`
// include held entries.

const SCAN_MAX = 10_000;
const SCAN_HOLD_S = 30;

interface Scanned {
  entry: DeadLetterEntry;
  key: string;
  message: ReceivedMessage;
}

function sortKey(at: number, messageKey: string): string {
  return `${String(at).padStart(15, "0")}.${messageKey}`;
}

function toEntry(queue: string, message: ReceivedMessage, messageKey: string): Scanned {
  const a = message.attributes;
  const reasonText = a.gtq_reason?.StringValue;
  const reason: DeadLetterReason = DEAD_LETTER_REASONS.includes(reasonText as DeadLetterReason)
    ? (reasonText as DeadLetterReason)
    : "poison";
  const at = Number(a.gtq_at?.StringValue ?? message.sentAt) || message.sentAt;
  const detail =
    reasonText === undefined
      ? `moved to the DLQ by the SQS redrive policy after ${message.receiveCount - 1} receives without a settle (its worker kept dying)`
      : (a.gtq_detail?.StringValue ?? "");
  return {
    entry: { id: message.id, queue, body: message.body, reason, detail, deadLetteredAt: at },
    key: sortKey(at, messageKey),
    message,
  };
}

export class SqsDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly ctx: SqsContext,
    private readonly queue: string,
    private readonly laneOf: (priority: number) => number,
  ) {}

  async list(options: {
    limit: number;
    cursor?: string;
    reason?: DeadLetterReason;
  }): Promise<DeadLetterPage> {
    if (options.cursor !== undefined && !/^\d{15}\.[A-Za-z0-9-]{1,100}$/.test(options.cursor)) {
      throw new InvalidArgumentError(
        `cursor must be the nextCursor of a previous page (got ${JSON.stringify(String(options.cursor).slice(0, 40))})`,
      );
    }
    const { url, scanned } = await this.scan();
    try {
      const matching = scanned.filter(
        (s) =>
          (options.reason === undefined || s.entry.reason === options.reason) &&
          (options.cursor === undefined || s.key > options.cursor),
      );
      const page = matching.slice(0, options.limit);
      const last = page[page.length - 1];
      return {
        entries: page.map((s) => s.entry),
        ...(matching.length > options.limit && last ? { nextCursor: last.key } : {}),
      };
    } finally {
      if (url) await this.giveBack(url, scanned);
    }
  }

  async requeue(
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): Promise<DeadLetterEntry[]> {
    const { url, scanned } = await this.scan();
    if (!url) return [];
    const ids = "ids" in selector ? new Set(selector.ids) : undefined;
    const chosen = scanned.filter((s) =>
      ids ? ids.has(s.entry.id) : "reason" in selector ? s.entry.reason === selector.reason : true,
    );
    const rest = scanned.filter((s) => !chosen.includes(s));
    const done: DeadLetterEntry[] = [];
    try {
      const outgoing = chosen.map((s) => ({ scanned: s, message: rewrite(s.entry) }));
      for (const { scanned: s, message } of outgoing) {
        const encoded = encodeMessage(message.id, message.body, {
          ...(message.delayMs > 900_000 ? { dueAt: this.ctx.now() + message.delayMs } : {}),
        });
        // One at a time: each entry is requeued durably, then removed from the DLQ.
        await this.ctx.sendToLane(this.queue, this.laneOf(message.priority), [
          {
            id: message.id,
            ...encoded,
            delaySeconds:
              message.delayMs > 0 ? Math.min(900, Math.ceil(message.delayMs / 1_000)) : 0,
          },
        ]);
        await this.ctx.deletes.add(url, s.message.receiptHandle);
        done.push(s.entry);
      }
    } finally {
      const notDone = [...rest, ...chosen.filter((s) => !done.includes(s.entry))];
      await this.giveBack(url, notDone);
    }
    return done;
  }

  private async scan(): Promise<{ url: string | undefined; scanned: Scanned[] }> {
    const url = await this.ctx.topology.existingUrl(
      this.ctx.topology.names.deadLetters(this.queue),
    );
    if (!url) return { url, scanned: [] };
    const scanned: Scanned[] = [];
    try {
      let longPolled = false;
      while (scanned.length < SCAN_MAX) {
        const out = await this.ctx.clients.calls.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: longPolled ? 1 : 0,
            VisibilityTimeout: SCAN_HOLD_S,
            MessageAttributeNames: ["All"],
            MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
          }),
        );
        const messages = out.Messages ?? [];
        for (const raw of messages) {
          scanned.push(toEntry(this.queue, decodeMessage(raw), raw.MessageId ?? "x"));
        }
        if (messages.length > 0) continue;
        // A short poll may miss messages on AWS (it samples servers): when the queue says some
        // are still visible, ask once more with a long poll, which asks every server.
        if (longPolled || !(await this.anyVisible(url))) break;
        longPolled = true;
      }
    } catch (error) {
      await this.giveBack(url, scanned);
      throw toDomainError(error, `scanning the DLQ of ${this.queue}`);
    }
    scanned.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return { url, scanned };
  }

  private async anyVisible(url: string): Promise<boolean> {
    const out = await this.ctx.clients.calls.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ["ApproximateNumberOfMessages"],
      }),
    );
    return Number(out.Attributes?.ApproximateNumberOfMessages ?? "0") > 0;
  }

  private async giveBack(url: string, scanned: readonly Scanned[]): Promise<void> {
    await Promise.all(
      scanned.map((s) =>
        this.ctx.visibility
          .add(url, { receiptHandle: s.message.receiptHandle, seconds: 0 })
          .catch(() => undefined),
      ),
    );
  }
}

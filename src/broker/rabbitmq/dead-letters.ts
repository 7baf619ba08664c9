import type { ConsumeMessage } from "amqplib";
import { InvalidArgumentError } from "../../core/errors.js";
import type {
  DeadLetterEntry,
  DeadLetterPage,
  DeadLetterQueue,
  DeadLetterReason,
  DeadLetterSelector,
  OutgoingMessage,
} from "../broker.js";
import type { RabbitContext } from "./context.js";
import {
  AT_HEADER,
  DETAIL_HEADER,
  deadLetterKey,
  KEY_HEADER,
  REASON_HEADER,
  workMessage,
} from "./messages.js";
import type { Outgoing } from "./publisher.js";
import type { QueueReader } from "./queue-reader.js";

// The DLQ of a work queue is a durable queue of its own (`P + "dlq/" + queue`). An entry is the
// message body with the reason, detail, time and a unique sort key in x-gotaskq-* headers. Pages
// are ordered by that key (dead-lettering time, then random) and the cursor is the last key of a
// page, so paging is stable while entries are added or removed. A quorum queue's own
// delivery-limit dead-lettering lands here too, without our headers: listed as `poison`.
// Requeue publishes the rewritten messages with confirms first and only then removes the entries
// (at-least-once: a crash in between leaves both).

const CURSOR = /^\d{15}-[0-9a-f]{12}$/;

export class RabbitDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly ctx: RabbitContext,
    private readonly reader: QueueReader,
    private readonly queue: string,
  ) {}

  async list(options: {
    limit: number;
    cursor?: string;
    reason?: DeadLetterReason;
  }): Promise<DeadLetterPage> {
    const { cursor } = options;
    if (cursor !== undefined && (typeof cursor !== "string" || !CURSOR.test(cursor))) {
      throw new InvalidArgumentError(
        `cursor must be the nextCursor of a previous page (got ${JSON.stringify(String(cursor).slice(0, 40))})`,
      );
    }
    await this.ctx.prepare(this.queue);
    const found: { key: string; entry: DeadLetterEntry }[] = [];
    await this.reader.read(this.ctx.names.deadLetters(this.queue), (message) => {
      const item = this.entryOf(message);
      if (cursor !== undefined && item.key <= cursor) return false;
      if (options.reason !== undefined && item.entry.reason !== options.reason) return false;
      found.push(item);
      return false;
    });
    found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const page = found.slice(0, options.limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((p) => p.entry),
      ...(found.length > options.limit && last ? { nextCursor: last.key } : {}),
    };
  }

  async requeue(
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): Promise<DeadLetterEntry[]> {
    await this.ctx.prepare(this.queue);
    const ids = "ids" in selector ? new Set(selector.ids) : undefined;
    const chosen: DeadLetterEntry[] = [];
    const outgoing: Outgoing[] = [];
    let delayed = false;
    await this.reader.read(
      this.ctx.names.deadLetters(this.queue),
      (message) => {
        const { entry } = this.entryOf(message);
        const selected = ids
          ? ids.has(entry.id)
          : "reason" in selector
            ? entry.reason === selector.reason
            : true;
        if (!selected) return false;
        const next = rewrite(entry);
        chosen.push(entry);
        if (next.delayMs > 0) delayed = true;
        outgoing.push(workMessage(this.ctx.names, this.queue, next));
        return true;
      },
      async () => {
        if (delayed) await this.ctx.topology.ensureLadder(this.queue);
        await this.ctx.publisher.send(outgoing);
      },
    );
    return chosen;
  }

  private entryOf(message: ConsumeMessage): { key: string; entry: DeadLetterEntry } {
    const headers = message.properties.headers ?? {};
    const ours = typeof headers[REASON_HEADER] === "string";
    const at = ours ? Number(headers[AT_HEADER]) : deathTime(headers);
    const key =
      typeof headers[KEY_HEADER] === "string"
        ? (headers[KEY_HEADER] as string)
        : // Dead-lettered by RabbitMQ itself: a key from its time and delivery, stable enough.
          `${deadLetterKey(at).slice(0, 16)}${String(message.properties.messageId ?? "")
            .replace(/[^0-9a-f]/g, "")
            .padEnd(12, "0")
            .slice(-12)}`;
    return {
      key,
      entry: {
        id: String(message.properties.messageId ?? ""),
        queue: this.queue,
        body: message.content,
        reason: ours ? (headers[REASON_HEADER] as DeadLetterReason) : "poison",
        detail: ours
          ? String(headers[DETAIL_HEADER] ?? "")
          : "RabbitMQ dead-lettered it: delivery limit of the quorum queue reached (x-delivery-limit)",
        deadLetteredAt: at,
      },
    };
  }
}

/** When RabbitMQ dead-lettered a message, from its x-death header (epoch ms). */
function deathTime(headers: Record<string, unknown>): number {
  const deaths = headers["x-death"];
  const first = Array.isArray(deaths) ? (deaths[0] as { time?: unknown }) : undefined;
  const time = first?.time as { value?: unknown } | number | undefined;
  const seconds = typeof time === "number" ? time : Number((time as { value?: unknown })?.value);
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : Date.now();
}

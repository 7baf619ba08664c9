import { InvalidArgumentError } from "../../core/errors.js";
import type {
  DeadLetterEntry,
  DeadLetterPage,
  DeadLetterQueue,
  DeadLetterReason,
  DeadLetterSelector,
  OutgoingMessage,
} from "../broker.js";
import type { RedisClient, ScriptCaller } from "./connection.js";
import type { QueueKeys } from "./keys.js";

// A queue's dead-letter stream: listing pages through it by entry id (the cursor is the last
// entry id of a page, so pages stay stable while entries are added or requeued), and requeue
// moves entries back with the `requeue` script, each entry's publish and removal in one step.

const SCAN_CHUNK = 500;

interface Stored extends DeadLetterEntry {
  entryId: string;
}

export class RedisDeadLetters implements DeadLetterQueue {
  constructor(
    private readonly redis: RedisClient,
    private readonly scripts: ScriptCaller,
    private readonly keys: QueueKeys,
    private readonly nonce: () => string,
    private readonly guard: <T>(work: () => Promise<T>) => Promise<T>,
  ) {}

  list(options: {
    limit: number;
    cursor?: string;
    reason?: DeadLetterReason;
  }): Promise<DeadLetterPage> {
    return this.guard(async () => {
      const after = parseCursor(options.cursor);
      const found: Stored[] = [];
      // One more than asked, to know whether a next page exists.
      for await (const entry of this.scan(after)) {
        if (options.reason && entry.reason !== options.reason) continue;
        found.push(entry);
        if (found.length > options.limit) break;
      }
      const entries = found.slice(0, options.limit);
      const last = entries[entries.length - 1];
      return {
        entries: entries.map(publicEntry),
        ...(found.length > options.limit && last ? { nextCursor: last.entryId } : {}),
      };
    });
  }

  requeue(
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): Promise<DeadLetterEntry[]> {
    return this.guard(async () => {
      const ids = "ids" in selector ? new Set(selector.ids) : undefined;
      const chosen: { entry: Stored; message: OutgoingMessage }[] = [];
      for await (const entry of this.scan(undefined)) {
        if (ids && !ids.has(entry.id)) continue;
        if ("reason" in selector && entry.reason !== selector.reason) continue;
        chosen.push({ entry, message: rewrite(publicEntry(entry)) });
      }
      const moved = new Set<string>();
      for (let i = 0; i < chosen.length; i += SCAN_CHUNK) {
        const args: (string | number | Buffer)[] = [this.nonce()];
        for (const { entry, message } of chosen.slice(i, i + SCAN_CHUNK)) {
          args.push(
            entry.entryId,
            message.priority,
            message.id,
            Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
            message.delayMs,
          );
        }
        const reply = (await this.scripts.gtqRequeueBuffer(this.keys.all, ...args)) as Buffer[];
        for (const id of reply) moved.add(id.toString());
      }
      return chosen.filter((c) => moved.has(c.entry.entryId)).map((c) => publicEntry(c.entry));
    });
  }

  /** Entries after `after` (exclusive) in id order, read in chunks. */
  private async *scan(after: string | undefined): AsyncGenerator<Stored> {
    let start = after ? `(${after}` : "-";
    for (;;) {
      const chunk = (await this.redis.xrangeBuffer(
        this.keys.dlq,
        start,
        "+",
        "COUNT",
        SCAN_CHUNK,
      )) as unknown as [Buffer, Buffer[]][];
      for (const [id, fields] of chunk) yield this.decode(id.toString(), fields);
      const last = chunk[chunk.length - 1];
      if (chunk.length < SCAN_CHUNK || !last) return;
      start = `(${last[0].toString()}`;
    }
  }

  private decode(entryId: string, fields: Buffer[]): Stored {
    const entry: Stored = {
      entryId,
      id: "",
      queue: this.keys.queue,
      body: new Uint8Array(0),
      reason: "poison",
      detail: "",
      deadLetteredAt: Number(entryId.split("-")[0]),
    };
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const name = fields[i]?.toString();
      const value = fields[i + 1] as Buffer;
      if (name === "i") entry.id = value.toString();
      else if (name === "b")
        entry.body = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
      else if (name === "r") entry.reason = value.toString() as DeadLetterReason;
      else if (name === "d") entry.detail = value.toString();
      else if (name === "t") entry.deadLetteredAt = Number(value.toString());
    }
    return entry;
  }
}

function publicEntry(entry: Stored): DeadLetterEntry {
  const { entryId: _entryId, ...rest } = entry;
  return rest;
}

function parseCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  if (typeof cursor !== "string" || !/^\d{1,20}-\d{1,20}$/.test(cursor)) {
    throw new InvalidArgumentError(
      `cursor must be the nextCursor of a previous page (got ${JSON.stringify(String(cursor).slice(0, 40))})`,
    );
  }
  return cursor;
}

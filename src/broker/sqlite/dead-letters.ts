import type Database from "better-sqlite3";
import type {
  DeadLetterEntry,
  DeadLetterPage,
  DeadLetterReason,
  DeadLetterSelector,
  OutgoingMessage,
} from "../broker.js";
import { parseSeqCursor } from "../validation.js";
import { MessageWriter } from "./publish.js";

// The dead-letter queue: listing with a keyset cursor (the entry's seq, so pages stay stable
// while entries are added or requeued) and requeue. Requeue runs in its own write transaction:
// every selected entry is rewritten and validated first, then the new messages are inserted and
// the entries deleted together, so a requeue is all-or-nothing even across processes.

interface Row {
  seq: number;
  id: string;
  queue: string;
  body: Uint8Array;
  reason: DeadLetterReason;
  detail: string;
  dead_lettered_at: number;
}

const COLUMNS = "seq, id, queue, body, reason, detail, dead_lettered_at";

export class DeadLetterStore {
  private readonly writer: MessageWriter;
  private readonly page: Database.Statement<[string, number, number]>;
  private readonly pageByReason: Database.Statement<[string, string, number, number]>;
  private readonly byId: Database.Statement<[string, string]>;
  private readonly byReason: Database.Statement<[string, string]>;
  private readonly all: Database.Statement<[string]>;
  private readonly remove: Database.Statement<[number]>;
  private readonly requeueTx: Database.Transaction<
    (work: () => DeadLetterEntry[]) => DeadLetterEntry[]
  >;

  constructor(
    db: Database.Database,
    private readonly now: () => number,
  ) {
    this.writer = new MessageWriter(db);
    const from = `SELECT ${COLUMNS} FROM dead_letters WHERE queue = ?`;
    this.page = db.prepare(`${from} AND seq > ? ORDER BY seq LIMIT ?`);
    this.pageByReason = db.prepare(`${from} AND reason = ? AND seq > ? ORDER BY seq LIMIT ?`);
    this.byId = db.prepare(`${from} AND id = ? ORDER BY seq`);
    this.byReason = db.prepare(`${from} AND reason = ? ORDER BY seq`);
    this.all = db.prepare(`${from} ORDER BY seq`);
    this.remove = db.prepare(`DELETE FROM dead_letters WHERE seq = ?`);
    this.requeueTx = db.transaction((work: () => DeadLetterEntry[]) => work());
  }

  list(
    queue: string,
    options: { limit: number; cursor?: string; reason?: DeadLetterReason },
  ): DeadLetterPage {
    const after = parseSeqCursor(options.cursor);
    // One row more than asked tells whether another page exists.
    const rows = (
      options.reason
        ? this.pageByReason.all(queue, options.reason, after, options.limit + 1)
        : this.page.all(queue, after, options.limit + 1)
    ) as Row[];
    const more = rows.length > options.limit;
    const shown = more ? rows.slice(0, options.limit) : rows;
    const entries = shown.map(toEntry);
    const last = shown[shown.length - 1];
    return more && last ? { entries, nextCursor: String(last.seq) } : { entries };
  }

  requeue(
    queue: string,
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): DeadLetterEntry[] {
    return this.requeueTx.immediate(() => {
      const rows = this.select(queue, selector);
      const entries = rows.map(toEntry);
      // A rewrite that throws (a message the broker refuses) rolls everything back.
      const messages = entries.map(rewrite);
      if (rows.length === 0) return entries;
      this.writer.insertBatch(queue, messages, this.now());
      for (const row of rows) this.remove.run(row.seq);
      return entries;
    });
  }

  private select(queue: string, selector: DeadLetterSelector): Row[] {
    if ("ids" in selector) {
      return [...new Set(selector.ids)].flatMap((id) => this.byId.all(queue, id) as Row[]);
    }
    if ("reason" in selector) return this.byReason.all(queue, selector.reason) as Row[];
    return this.all.all(queue) as Row[];
  }
}

function toEntry(row: Row): DeadLetterEntry {
  return {
    id: row.id,
    queue: row.queue,
    body: row.body,
    reason: row.reason,
    detail: row.detail,
    deadLetteredAt: row.dead_lettered_at,
  };
}

import type {
  DeadLetterEntry,
  DeadLetterPage,
  DeadLetterReason,
  DeadLetterSelector,
} from "../broker.js";
import { parseSeqCursor } from "../validation.js";

// The memory broker's dead-letter queues: per queue, entries in dead-letter order (a Map keeps
// insertion order), each with a sequence number that doubles as the listing cursor so pages stay
// stable while entries are added or requeued.

interface StoredDeadLetter extends DeadLetterEntry {
  readonly seq: number;
}

export class MemoryDeadLetters {
  private readonly queues = new Map<string, Map<number, StoredDeadLetter>>();
  private seq = 0;

  add(entry: DeadLetterEntry): void {
    const seq = ++this.seq;
    this.of(entry.queue).set(seq, { ...entry, seq });
  }

  count(queue: string): number {
    return this.queues.get(queue)?.size ?? 0;
  }

  list(
    queue: string,
    options: { limit: number; cursor?: string; reason?: DeadLetterReason },
  ): DeadLetterPage {
    const after = parseSeqCursor(options.cursor);
    const entries: DeadLetterEntry[] = [];
    let last = after;
    for (const stored of this.of(queue).values()) {
      if (stored.seq <= after) continue;
      if (options.reason && stored.reason !== options.reason) continue;
      if (entries.length === options.limit) return { entries, nextCursor: String(last) };
      entries.push(publicEntry(stored));
      last = stored.seq;
    }
    return { entries };
  }

  /** The entries a selector names, in dead-letter order; `remove` them once requeued. */
  select(
    queue: string,
    selector: DeadLetterSelector,
  ): { entries: DeadLetterEntry[]; remove: () => void } {
    const stored = this.of(queue);
    const ids = "ids" in selector ? new Set(selector.ids) : undefined;
    const reason = "reason" in selector ? selector.reason : undefined;
    const chosen = [...stored.values()].filter((e) =>
      ids ? ids.has(e.id) : reason ? e.reason === reason : true,
    );
    return {
      entries: chosen.map(publicEntry),
      remove: () => {
        for (const e of chosen) stored.delete(e.seq);
      },
    };
  }

  private of(queue: string): Map<number, StoredDeadLetter> {
    let stored = this.queues.get(queue);
    if (!stored) {
      stored = new Map();
      this.queues.set(queue, stored);
    }
    return stored;
  }
}

function publicEntry(stored: StoredDeadLetter): DeadLetterEntry {
  const { seq: _seq, ...entry } = stored;
  return entry;
}

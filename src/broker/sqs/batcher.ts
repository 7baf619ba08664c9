import {
  type BatchResultErrorEntry,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import type { SqsClients } from "./sdk.js";
import { toDomainError } from "./sdk.js";

// Coalesces per-message calls into SQS batch calls (10 entries each) per queue URL: settles
// (DeleteMessageBatch) and lease extensions (ChangeMessageVisibilityBatch) of many deliveries
// go out together. A batch leaves when it has 10 entries or 5 ms after its first entry: a
// worker's acks trickle in one handler at a time, and without the wait most calls would carry
// one or two entries (each an HTTP request, a signature and an MD5). A partial failure is handled item by item: entries SQS
// failed on its side (SenderFault false) are retried in a later batch, up to 3 attempts; entries
// it refused (e.g. a receipt handle that is no longer valid) resolve with SQS's code so the
// caller can map it (lease lost). A failed request rejects its entries with a domain error.

export type ItemResult = { ok: true } | { ok: false; code: string; message: string };

interface Pending<T> {
  item: T;
  attempts: number;
  resolve: (result: ItemResult) => void;
  reject: (error: unknown) => void;
}

const BATCH = 10;
const LINGER_MS = 5;
const MAX_ATTEMPTS = 3;

type SendBatch<T> = (
  url: string,
  entries: { Id: string; item: T }[],
) => Promise<{ failed: BatchResultErrorEntry[] }>;

export class Batcher<T> {
  private readonly pending = new Map<string, Pending<T>[]>();
  private scheduled = false;

  constructor(private readonly send: SendBatch<T>) {}

  add(url: string, item: T): Promise<ItemResult> {
    return new Promise((resolve, reject) => {
      this.enqueue(url, { item, attempts: 0, resolve, reject });
    });
  }

  private enqueue(url: string, entry: Pending<T>): void {
    let list = this.pending.get(url);
    if (!list) {
      list = [];
      this.pending.set(url, list);
    }
    list.push(entry);
    if (list.length >= BATCH) {
      this.pending.set(url, list.slice(BATCH));
      void this.flush(url, list.slice(0, BATCH));
    } else if (!this.scheduled) {
      this.scheduled = true;
      setTimeout(this.flushAll, LINGER_MS);
    }
  }

  private readonly flushAll = (): void => {
    this.scheduled = false;
    for (const [url, list] of this.pending) {
      this.pending.delete(url);
      for (let i = 0; i < list.length; i += BATCH) void this.flush(url, list.slice(i, i + BATCH));
    }
  };

  private async flush(url: string, batch: Pending<T>[]): Promise<void> {
    let failed: BatchResultErrorEntry[];
    try {
      ({ failed } = await this.send(
        url,
        batch.map((entry, i) => ({ Id: String(i), item: entry.item })),
      ));
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    const failures = new Map(failed.map((f) => [f.Id, f]));
    batch.forEach((entry, i) => {
      const failure = failures.get(String(i));
      if (!failure) {
        entry.resolve({ ok: true });
        return;
      }
      entry.attempts++;
      if (!failure.SenderFault && entry.attempts < MAX_ATTEMPTS) {
        this.enqueue(url, entry);
        return;
      }
      entry.resolve({ ok: false, code: failure.Code ?? "Unknown", message: failure.Message ?? "" });
    });
  }
}

export function deleteBatcher(clients: SqsClients): Batcher<string> {
  return new Batcher<string>(async (url, entries) => {
    try {
      const out = await clients.calls.send(
        new DeleteMessageBatchCommand({
          QueueUrl: url,
          Entries: entries.map((e) => ({ Id: e.Id, ReceiptHandle: e.item })),
        }),
      );
      return { failed: out.Failed ?? [] };
    } catch (error) {
      throw toDomainError(error, "deleting messages");
    }
  });
}

export interface VisibilityChange {
  receiptHandle: string;
  seconds: number;
}

export function visibilityBatcher(clients: SqsClients): Batcher<VisibilityChange> {
  return new Batcher<VisibilityChange>(async (url, entries) => {
    try {
      const out = await clients.calls.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: url,
          Entries: entries.map((e) => ({
            Id: e.Id,
            ReceiptHandle: e.item.receiptHandle,
            VisibilityTimeout: e.item.seconds,
          })),
        }),
      );
      return { failed: out.Failed ?? [] };
    } catch (error) {
      throw toDomainError(error, "changing message visibility");
    }
  });
}

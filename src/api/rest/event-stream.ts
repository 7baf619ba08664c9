import type { ServerResponse } from "node:http";
import type { TaskStatus } from "../../core/status.js";
import type { Logger } from "../../logging/logger.js";
import type { TaskRecord } from "../../tracking/tracking-store.js";
import type { TaskFeed } from "../task-feed.js";
import { taskRecordWire } from "./wire.js";

// GET /v1/events as Server-Sent Events: every connected client is one entry here, fed from the
// process's single TaskFeed (the hub is its only subscriber). Each change is serialised once and
// queued for every client whose filters match, as `event: task` + `data: <the task exactly as an
// item of GET /v1/tasks>`.
//
// A slow client cannot grow the server's memory: its messages wait in a queue of its own, written
// to the socket only as fast as the socket drains; when that queue passes `maxBufferBytes` the
// client is disconnected (EventSource reconnects on its own and the UI reloads its list). A
// `: ping` comment every `pingMs` keeps proxies from closing an idle stream and is also when a
// client whose session ended (logout, expiry, operator removed) is disconnected. On shutdown
// every stream is ended, so the server can close.

export interface EventFilter {
  status?: readonly TaskStatus[];
  functionKey?: string;
  queue?: string;
}

export interface StreamClient {
  response: ServerResponse;
  filter: EventFilter;
  /** False once the credential that opened the stream is no longer valid. */
  stillAuthorized(): boolean;
}

export interface EventStreamHubOptions {
  feed: TaskFeed;
  logger: Logger;
  /** Default 15,000 ms. */
  pingMs?: number;
  /** Bytes (UTF-16 units) queued for one client before it is dropped. Default 4 MiB. */
  maxBufferBytes?: number;
  /** Streams open at once, at most. Default 1,000. */
  maxClients?: number;
}

interface Queue {
  messages: string[];
  bytes: number;
  /** Waiting for the socket's 'drain' before writing more. */
  blocked: boolean;
}

function matches(filter: EventFilter, r: TaskRecord): boolean {
  if (filter.status && filter.status.length > 0 && !filter.status.includes(r.status)) return false;
  if (filter.functionKey !== undefined && r.functionKey !== filter.functionKey) return false;
  if (filter.queue !== undefined && r.queue !== filter.queue) return false;
  return true;
}

export class EventStreamHub {
  readonly maxClients: number;
  readonly #feed: TaskFeed;
  readonly #logger: Logger;
  readonly #pingMs: number;
  readonly #maxBufferBytes: number;
  readonly #clients = new Map<StreamClient, Queue>();
  #unsubscribe: (() => void) | undefined;
  #pinger: NodeJS.Timeout | undefined;
  #closed = false;
  #dropped = 0;

  constructor(options: EventStreamHubOptions) {
    this.#feed = options.feed;
    this.#logger = options.logger;
    this.#pingMs = options.pingMs ?? 15_000;
    this.#maxBufferBytes = options.maxBufferBytes ?? 4 * 1_048_576;
    this.maxClients = options.maxClients ?? 1_000;
  }

  get size(): number {
    return this.#clients.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Slow clients disconnected so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Starts streaming to a response whose headers were already written. */
  add(client: StreamClient): void {
    if (this.#closed) {
      client.response.end();
      return;
    }
    this.#clients.set(client, { messages: [], bytes: 0, blocked: false });
    client.response.on("close", () => this.#remove(client));
    this.#unsubscribe ??= this.#feed.subscribe((records) => this.#broadcast(records));
    if (!this.#pinger) {
      this.#pinger = setInterval(() => this.#ping(), this.#pingMs);
      this.#pinger.unref();
    }
  }

  /** Ends every stream and stops the feed (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const client of [...this.#clients.keys()]) this.#end(client);
    await this.#feed.close();
  }

  #broadcast(records: readonly TaskRecord[]): void {
    const messages = records.map((record) => ({
      record,
      text: `event: task\ndata: ${JSON.stringify(taskRecordWire(record))}\n\n`,
    }));
    for (const client of [...this.#clients.keys()]) {
      if (!client.stillAuthorized()) {
        this.#end(client);
        continue;
      }
      for (const m of messages) {
        if (matches(client.filter, m.record) && !this.#enqueue(client, m.text)) break;
      }
    }
  }

  #ping(): void {
    for (const client of [...this.#clients.keys()]) {
      if (!client.stillAuthorized()) this.#end(client);
      else this.#enqueue(client, ": ping\n\n");
    }
  }

  /** Queues one message and writes what the socket takes; false when the client was dropped. */
  #enqueue(client: StreamClient, text: string): boolean {
    const queue = this.#clients.get(client);
    if (!queue) return false;
    if (queue.bytes + text.length > this.#maxBufferBytes) {
      this.#dropped += 1;
      this.#logger.warn(
        { event: "event_stream_slow_client", queued_bytes: queue.bytes },
        "dropping a live-event client that does not keep up",
      );
      this.#remove(client);
      client.response.destroy();
      return false;
    }
    queue.messages.push(text);
    queue.bytes += text.length;
    if (!queue.blocked) this.#flush(client, queue);
    return true;
  }

  #flush(client: StreamClient, queue: Queue): void {
    const { response } = client;
    while (queue.messages.length > 0) {
      if (response.destroyed || response.writableEnded) {
        this.#remove(client);
        return;
      }
      const text = queue.messages.shift() as string;
      queue.bytes -= text.length;
      if (!response.write(text)) {
        queue.blocked = true;
        response.once("drain", () => {
          queue.blocked = false;
          this.#flush(client, queue);
        });
        return;
      }
    }
  }

  /** The stream ends cleanly; the browser's reconnect then meets a 401 (or another replica). */
  #end(client: StreamClient): void {
    this.#remove(client);
    client.response.end();
  }

  #remove(client: StreamClient): void {
    if (!this.#clients.delete(client)) return;
    if (this.#clients.size > 0) return;
    // Nobody listens: the feed stops polling, the pings stop.
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#pinger) clearInterval(this.#pinger);
    this.#pinger = undefined;
  }
}

import type { ServerResponse } from "node:http";
import type { TaskStatus } from "../../core/status.js";
import type { Logger } from "../../logging/logger.js";
import type { TaskRecord } from "../../tracking/tracking-store.js";
import type { TaskFeed } from "../task-feed.js";
import { taskRecordWire } from "./wire.js";

// GET /v1/events as Server-Sent Events: every connected client is one entry here, fed from the
// process's single TaskFeed. Each change is serialised once and written to every client whose
// filters match, as `event: task` + `data: <the task exactly as an item of GET /v1/tasks>`.
//
// A slow client cannot grow the server's memory: when what is queued in its socket passes
// `maxBufferBytes` it is disconnected (EventSource reconnects on its own and the UI reloads its
// list). A `: ping` comment every `pingMs` keeps proxies from closing an idle stream and is when
// a client whose session ended (logout, expiry, operator removed) is disconnected. On shutdown
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
  /** Bytes queued for one client before it is dropped. Default 1 MiB. */
  maxBufferBytes?: number;
  /** Streams open at once, at most. Default 1,000. */
  maxClients?: number;
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
  readonly #clients = new Map<StreamClient, () => void>();
  #pinger: NodeJS.Timeout | undefined;
  #closed = false;
  #dropped = 0;

  constructor(options: EventStreamHubOptions) {
    this.#feed = options.feed;
    this.#logger = options.logger;
    this.#pingMs = options.pingMs ?? 15_000;
    this.#maxBufferBytes = options.maxBufferBytes ?? 1_048_576;
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
    const unsubscribe = this.#feed.subscribe((records) => this.#send(client, records));
    this.#clients.set(client, unsubscribe);
    client.response.on("close", () => this.#remove(client));
    this.#pinger ??= setInterval(() => this.#ping(), this.#pingMs);
    this.#pinger.unref();
  }

  /** Ends every stream and stops the feed (idempotent). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const client of [...this.#clients.keys()]) {
      this.#remove(client);
      client.response.end();
    }
    await this.#feed.close();
  }

  #send(client: StreamClient, records: readonly TaskRecord[]): void {
    if (!client.stillAuthorized()) return this.#end(client);
    let chunk = "";
    for (const record of records) {
      if (matches(client.filter, record)) {
        chunk += `event: task\ndata: ${JSON.stringify(taskRecordWire(record))}\n\n`;
      }
    }
    if (chunk) this.#write(client, chunk);
  }

  #ping(): void {
    for (const client of [...this.#clients.keys()]) {
      if (!client.stillAuthorized()) this.#end(client);
      else this.#write(client, ": ping\n\n");
    }
  }

  #write(client: StreamClient, chunk: string): void {
    const { response } = client;
    if (response.destroyed || response.writableEnded) return this.#remove(client);
    if (response.writableLength + chunk.length > this.#maxBufferBytes) {
      this.#dropped += 1;
      this.#logger.warn(
        { event: "event_stream_slow_client", queued_bytes: response.writableLength },
        "dropping a live-event client that does not keep up",
      );
      this.#remove(client);
      response.destroy();
      return;
    }
    response.write(chunk);
  }

  /** The stream ends cleanly; the browser's reconnect then meets a 401. */
  #end(client: StreamClient): void {
    this.#remove(client);
    client.response.end();
  }

  #remove(client: StreamClient): void {
    const unsubscribe = this.#clients.get(client);
    if (!unsubscribe) return;
    this.#clients.delete(client);
    unsubscribe();
    if (this.#clients.size === 0 && this.#pinger) {
      clearInterval(this.#pinger);
      this.#pinger = undefined;
    }
  }
}

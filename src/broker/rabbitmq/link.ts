import amqp, { type ChannelModel } from "amqplib";
import { UnavailableError } from "../../core/errors.js";
import type { RabbitOptions } from "./options.js";
import { coalesceWrites, WRITE_BUFFER_BYTES } from "./write-coalescer.js";

// One AMQP connection for one role ("publisher" or "consumer"): publishing on its own connection
// keeps RabbitMQ's flow control on publishers from stalling deliveries and acks. The link connects
// lazily and again after a loss, one attempt at a time (concurrent callers share it), and fails
// fast while the broker is down: after a failed attempt, callers within `RETRY_AFTER_MS` get the
// same UnavailableError at once instead of each waiting for a connect timeout (so the API answers
// 503 quickly). Every 'error' and 'close' of the connection is handled here; nothing is thrown
// into the event loop.

const RETRY_AFTER_MS = 250;

export class Link {
  private model: ChannelModel | undefined;
  private connecting: Promise<ChannelModel> | undefined;
  private lastFailure: { at: number; error: UnavailableError } | undefined;
  private closed = false;
  /** Bumped on every (re)connection, so holders of a channel can tell theirs is from an old one. */
  generation = 0;
  private readonly lostListeners = new Set<() => void>();

  constructor(
    private readonly options: RabbitOptions,
    private readonly role: string,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Called after the connection is lost (not after `close`). */
  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** The open connection, connecting if needed; rejects with `unavailable`. */
  get(): Promise<ChannelModel> {
    if (this.closed) return Promise.reject(this.closedError());
    if (this.model) return Promise.resolve(this.model);
    const failure = this.lastFailure;
    if (failure && Date.now() - failure.at < RETRY_AFTER_MS) return Promise.reject(failure.error);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  closedError(): UnavailableError {
    return new UnavailableError(`the RabbitMQ broker client (${this.options.where}) is closed`);
  }

  private async connect(): Promise<ChannelModel> {
    let model: ChannelModel;
    try {
      const socketOptions = {
        timeout: this.options.connectTimeoutMs,
        // Shown in the management UI and `rabbitmqctl list_connections`: who, what, which prefix.
        clientProperties: {
          connection_name: `gotaskq ${this.role} ${this.options.prefix} pid ${process.pid}`,
        },
        // Passed on to net.connect: a corked batch of frames fits before amqplib backs off.
        writableHighWaterMark: WRITE_BUFFER_BYTES,
      };
      model = await amqp.connect(this.options.url, socketOptions);
    } catch (cause) {
      const error = new UnavailableError(
        `RabbitMQ at ${this.options.where} is unreachable (${describe(cause)}); retry later`,
        { cause },
      );
      this.lastFailure = { at: Date.now(), error };
      throw error;
    }
    if (this.closed) {
      await model.close().catch(() => undefined);
      throw this.closedError();
    }
    this.lastFailure = undefined;
    coalesceWrites(model.connection);
    this.generation++;
    this.model = model;
    // 'error' always precedes 'close' on a failure; the close is what matters.
    model.on("error", () => undefined);
    model.on("close", () => {
      if (this.model !== model) return;
      this.model = undefined;
      if (this.closed) return;
      for (const listener of [...this.lostListeners]) {
        try {
          listener();
        } catch {
          // A listener's bug must not stop the others from learning of the loss.
        }
      }
    });
    // A blocked connection (memory or disk alarm) does not fail publishes by itself: the publish
    // timeout turns them into `unavailable`.
    return model;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const model = this.model;
    this.model = undefined;
    this.lostListeners.clear();
    await model?.close().catch(() => undefined);
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}

import { randomBytes } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import type { ControlChannel, ControlCommand, Subscription } from "../broker.js";
import { decodeCommand, encodeCommand, invokeCallback } from "../validation.js";
import type { SqsContext } from "./context.js";
import { isQueueMissing, toDomainError } from "./sdk.js";

// Cancellation without SNS. Two parts, both plain SQS:
// - Live fan-out: every control subscriber owns an inbox queue (c_<random>) that it long-polls;
//   `broadcast` finds the inboxes by name prefix (ListQueues) and sends the command to each.
//   A subscriber deletes its inbox when it closes.
// - Replay: SQS cannot read messages without taking them, so a journal queue could not be read
//   by many subscribers at once. What SQS lists consistently to everyone is queue names: each
//   revocation is recorded as an empty marker queue r_<time>_<task id>, and a new subscriber lists
//   the markers and replays those within retention (default 30 days); expired markers are
//   deleted by whoever lists them. Cancels are rare, so a queue per cancel costs little.
// Order closes the race between a cancel and a starting subscriber: the subscriber creates its
// inbox before listing markers, and `broadcast` writes the marker before listing inboxes, so
// either the inbox is found or the marker is. (ListQueues is eventually consistent on AWS: a
// subscriber starting within a second or so of the cancel may miss it; the emulator has no lag.)
// Presence beats take the live path only (no marker): one ListQueues and one SendMessage per
// inbox per beat, i.e. workers² sends per interval, which is why workers beat every few seconds
// and not faster. An inbox whose subscriber died without deleting it (kill -9) would receive every
// beat forever, so each new subscriber deletes the inboxes holding more than ABANDONED_BACKLOG
// unread commands: a live subscriber long-polls its inbox and never lets that many wait.

const INBOX_WAIT_S = 20;
/** Unread commands beyond which an inbox counts as abandoned (≥ 100 s without a poll at 10 workers beating every 5 s). */
export const ABANDONED_BACKLOG = 200;

export class SqsControlChannel implements ControlChannel {
  private readonly subscriptions = new Set<InboxSubscription>();

  constructor(private readonly ctx: SqsContext) {}

  async broadcast(command: ControlCommand): Promise<void> {
    const names = this.ctx.topology.names;
    const body = encodeCommand(command);
    const what = command.type === "revoke" ? "a revocation" : "a presence beat";
    await this.ctx.track(
      (async () => {
        // Presence is live only: no marker, just the inboxes of the moment.
        if (command.type === "revoke") {
          try {
            await this.ctx.clients.calls.send(
              new CreateQueueCommand({ QueueName: names.revocation(command.taskId, command.at) }),
            );
          } catch (error) {
            throw toDomainError(error, `recording the revocation of ${command.taskId}`);
          }
        }
        const inboxes = await this.ctx.topology.list(names.controlPrefix);
        await Promise.all(
          inboxes.map(async ({ url, name }) => {
            try {
              await this.ctx.clients.calls.send(
                new SendMessageCommand({ QueueUrl: url, MessageBody: body }),
              );
            } catch (error) {
              // An inbox deleted since the listing belonged to a subscriber that closed.
              if (!isQueueMissing(error)) throw toDomainError(error, `sending ${what} to ${name}`);
            }
          }),
        );
      })(),
    );
  }

  async subscribe(handler: (command: ControlCommand) => void): Promise<Subscription> {
    const names = this.ctx.topology.names;
    const inboxName = names.control(randomBytes(8).toString("hex"));
    let url: string;
    try {
      const out = await this.ctx.clients.calls.send(
        new CreateQueueCommand({
          QueueName: inboxName,
          Attributes: { MessageRetentionPeriod: "86400" },
        }),
      );
      url = out.QueueUrl ?? "";
    } catch (error) {
      throw toDomainError(error, "creating the control inbox");
    }
    const subscription = new InboxSubscription(this.ctx, inboxName, url, handler, () =>
      this.subscriptions.delete(subscription),
    );
    try {
      await this.replay(handler);
    } catch (error) {
      await subscription.close();
      throw error;
    }
    this.subscriptions.add(subscription);
    subscription.start();
    void this.ctx.track(this.reapAbandoned(inboxName)).catch(() => undefined);
    return subscription;
  }

  /** Best-effort: deletes other subscribers' inboxes that nobody reads any more (see above). */
  private async reapAbandoned(own: string): Promise<void> {
    const inboxes = await this.ctx.topology.list(this.ctx.topology.names.controlPrefix);
    for (const { name, url } of inboxes) {
      if (name === own || this.ctx.isClosed()) continue;
      const out = await this.ctx.clients.calls.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: ["ApproximateNumberOfMessages"],
        }),
      );
      if (Number(out.Attributes?.ApproximateNumberOfMessages ?? "0") > ABANDONED_BACKLOG) {
        await this.ctx.clients.calls.send(new DeleteQueueCommand({ QueueUrl: url }));
      }
    }
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  private async replay(handler: (command: ControlCommand) => void): Promise<void> {
    const names = this.ctx.topology.names;
    const horizon = this.ctx.now() - this.ctx.options.revocationRetentionMs;
    const markers = await this.ctx.topology.list(names.revocationPrefix);
    const live: ControlCommand[] = [];
    const expired: string[] = [];
    for (const marker of markers) {
      const parsed = names.parseRevocation(marker.name);
      if (!parsed) continue;
      if (parsed.at < horizon) expired.push(marker.url);
      else live.push({ type: "revoke", taskId: parsed.taskId, at: parsed.at });
    }
    live.sort((a, b) => a.at - b.at);
    for (const command of live) invokeCallback(handler, command);
    for (const url of expired) {
      void this.ctx.clients.calls
        .send(new DeleteQueueCommand({ QueueUrl: url }))
        .catch(() => undefined);
    }
  }
}

class InboxSubscription implements Subscription {
  private active = true;
  private readonly abort = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly ctx: SqsContext,
    private readonly name: string,
    private url: string,
    private readonly handler: (command: ControlCommand) => void,
    private readonly onClose: () => void,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  async close(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.abort.abort();
    this.onClose();
    await this.loop;
    await this.ctx.clients.calls
      .send(new DeleteQueueCommand({ QueueUrl: this.url }))
      .catch(() => undefined);
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.active) {
      try {
        const out = await this.ctx.clients.polls.send(
          new ReceiveMessageCommand({
            QueueUrl: this.url,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: INBOX_WAIT_S,
            VisibilityTimeout: 30,
          }),
          { abortSignal: this.abort.signal },
        );
        failures = 0;
        for (const message of out.Messages ?? []) {
          const command = parse(message.Body);
          if (command) invokeCallback(this.handler, command);
          void this.ctx.deletes.add(this.url, message.ReceiptHandle ?? "").catch(() => undefined);
        }
      } catch (error) {
        if (!this.active) return;
        failures++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(5_000, 200 * 2 ** Math.min(failures, 5)));
          this.abort.signal.addEventListener("abort", () => {
            clearTimeout(timer);
            resolve();
          });
        });
        // The inbox vanished (deleted, or an emulator restarted): make it again.
        if (isQueueMissing(error) && this.active) {
          const out = await this.ctx.clients.calls
            .send(new CreateQueueCommand({ QueueName: this.name }))
            .catch(() => undefined);
          if (out?.QueueUrl) this.url = out.QueueUrl;
        }
      }
    }
  }
}

function parse(body: string | undefined): ControlCommand | undefined {
  // undefined for a foreign message in our inbox: it is ignored
  return decodeCommand(body ?? "");
}

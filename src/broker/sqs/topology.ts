import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
} from "@aws-sdk/client-sqs";
import type { QueueNames } from "./names.js";
import type { SqsClients } from "./sdk.js";
import { errorCode, isQueueMissing, toDomainError } from "./sdk.js";

// Creates the SQS queues GoTaskQ needs on first use and remembers their URLs. A lane queue is
// created with its DLQ as the redrive target (maxReceiveCount: the `poison` backstop for a
// message whose worker keeps dying before it can dead-letter it). Retention is SQS's maximum
// (14 days) everywhere. A failed creation is forgotten so the next call tries again, and a queue
// that vanished (deleted, or an emulator restarted) is recreated by `invalidate` + retry.

const RETENTION_S = "1209600";

export class Topology {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(
    private readonly clients: SqsClients,
    readonly names: QueueNames,
    private readonly sqsMaxBytes: number,
    private readonly maxReceiveCount: number,
    private readonly fifo = false,
  ) {}

  laneUrl(queue: string, lane: number): Promise<string> {
    const name = this.names.lane(queue, lane);
    return this.remember(name, async () => {
      // A FIFO queue's redrive target must be FIFO too, and a FIFO DLQ's message groups would
      // stop the DLQ scan: FIFO lanes go without the redrive backstop (README).
      if (this.fifo) {
        await this.deadLetterUrl(queue);
        return this.create(name, { FifoQueue: "true" });
      }
      const dlqUrl = await this.deadLetterUrl(queue);
      const arn = await this.arnOf(dlqUrl);
      return this.create(name, {
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: arn,
          maxReceiveCount: this.maxReceiveCount,
        }),
      });
    });
  }

  /** FIFO mode: the standard queue holding delayed messages of a FIFO lane. */
  delayUrl(queue: string, lane: number): Promise<string> {
    const name = this.names.delayLane(queue, lane);
    return this.remember(name, () => this.create(name, {}));
  }

  deadLetterUrl(queue: string): Promise<string> {
    const name = this.names.deadLetters(queue);
    return this.remember(name, () => this.create(name, {}));
  }

  /** A control or marker queue: short-lived, small messages, no redrive. */
  plainUrl(name: string, attributes: Record<string, string> = {}): Promise<string> {
    return this.remember(name, () => this.create(name, attributes));
  }

  /** The URL of an existing queue without creating it; undefined when it does not exist. */
  async existingUrl(name: string): Promise<string | undefined> {
    const known = this.urls.get(name);
    if (known) return known.catch(() => undefined);
    try {
      const out = await this.clients.calls.send(new GetQueueUrlCommand({ QueueName: name }));
      return out.QueueUrl;
    } catch (error) {
      if (isQueueMissing(error)) return undefined;
      throw toDomainError(error, `looking up queue ${name}`);
    }
  }

  /** Forgets a URL whose queue no longer exists, so the next use creates it again. */
  invalidate(name: string): void {
    this.urls.delete(name);
  }

  forgetAll(): void {
    this.urls.clear();
  }

  /** Names of queues starting with `prefix` (every page). */
  async list(prefix: string): Promise<{ name: string; url: string }[]> {
    const found: { name: string; url: string }[] = [];
    let token: string | undefined;
    for (let page = 0; page < 1_000; page++) {
      const out = await this.clients.calls
        .send(
          new ListQueuesCommand({
            QueueNamePrefix: prefix,
            MaxResults: 1_000,
            ...(token ? { NextToken: token } : {}),
          }),
        )
        .catch((error: unknown) => {
          throw toDomainError(error, `listing queues ${prefix}*`);
        });
      for (const url of out.QueueUrls ?? []) {
        found.push({ name: url.slice(url.lastIndexOf("/") + 1), url });
      }
      token = out.NextToken;
      if (!token) break;
    }
    return found;
  }

  private remember(name: string, make: () => Promise<string>): Promise<string> {
    let url = this.urls.get(name);
    if (!url) {
      url = make();
      this.urls.set(name, url);
      url.catch(() => {
        if (this.urls.get(name) === url) this.urls.delete(name);
      });
    }
    return url;
  }

  private async create(name: string, attributes: Record<string, string>): Promise<string> {
    try {
      const out = await this.clients.calls.send(
        new CreateQueueCommand({
          QueueName: name,
          Attributes: {
            MessageRetentionPeriod: RETENTION_S,
            MaximumMessageSize: String(this.sqsMaxBytes),
            ...attributes,
          },
        }),
      );
      if (!out.QueueUrl) throw new Error(`CreateQueue ${name} returned no URL`);
      return out.QueueUrl;
    } catch (error) {
      // Created earlier with other attributes (e.g. another maxReceiveCount): use it as it is.
      const code = errorCode(error);
      if (code === "QueueNameExists" || code === "QueueAlreadyExists") {
        const out = await this.clients.calls
          .send(new GetQueueUrlCommand({ QueueName: name }))
          .catch((e: unknown) => {
            throw toDomainError(e, `looking up queue ${name}`);
          });
        if (out.QueueUrl) return out.QueueUrl;
      }
      throw toDomainError(error, `creating queue ${name}`);
    }
  }

  private async arnOf(url: string): Promise<string> {
    try {
      const out = await this.clients.calls.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
      );
      const arn = out.Attributes?.QueueArn;
      if (!arn) throw new Error(`no QueueArn for ${url}`);
      return arn;
    } catch (error) {
      throw toDomainError(error, `reading the ARN of ${url}`);
    }
  }
}

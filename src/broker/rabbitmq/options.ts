import { InvalidArgumentError } from "../../core/errors.js";

// GOTASKQ_BROKER_URL for RabbitMQ: `amqp://user:pass@host:5672/vhost?option=value`. The
// options below are GoTaskQ's and are stripped before the URL reaches amqplib; the rest
// (heartbeat, frameMax, channelMax, locale) are amqplib's own and pass through.

export type QueueType = "classic" | "quorum";

export interface RabbitOptions {
  /** The URL amqplib connects to (GoTaskQ's options removed). */
  url: string;
  /** Host and port only, for error messages (never the credentials). */
  where: string;
  /** Prepended to every queue and exchange name GoTaskQ declares (default `gotaskq.`). */
  prefix: string;
  /** Type of the work queues and DLQs (default classic: native priorities). */
  queueType: QueueType;
  /**
   * The broker's consumer_timeout (ms, default RabbitMQ's 1 800 000): a delivery unacked for
   * longer makes RabbitMQ close the channel. AMQP cannot read it, so it is configured here.
   */
  consumerTimeoutMs: number;
  /** Quorum only: x-delivery-limit, the broker's own poison backstop (default 20). */
  deliveryLimit: number;
  /** How long a publish waits for its confirms before failing as unavailable (ms, default 10 000). */
  publishTimeoutMs: number;
  /** How long connecting may take before the attempt fails (ms, default 5 000). */
  connectTimeoutMs: number;
  /** How long the control stream keeps revocations for late subscribers (ms, default 30 days). */
  controlRetentionMs: number;
}

const DAY = 86_400_000;

const INTEGER_OPTIONS = {
  consumer_timeout_ms: ["consumerTimeoutMs", 1_800_000, 1_000, 365 * DAY],
  delivery_limit: ["deliveryLimit", 20, 1, 1_000_000],
  publish_timeout_ms: ["publishTimeoutMs", 10_000, 100, 600_000],
  connect_timeout_ms: ["connectTimeoutMs", 5_000, 100, 600_000],
  control_retention_ms: ["controlRetentionMs", 30 * DAY, 1_000, 365 * DAY],
} as const;

const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{0,64}$/;

export function parseRabbitUrl(raw: string): RabbitOptions {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidArgumentError(
      `GOTASKQ_BROKER_URL ${JSON.stringify(raw.replace(/\/\/[^@/]*@/, "//***@"))} is not a valid URL; use e.g. amqp://guest:guest@127.0.0.1:5672`,
    );
  }
  if (url.protocol !== "amqp:" && url.protocol !== "amqps:") {
    throw new InvalidArgumentError(
      `a RabbitMQ URL starts with amqp:// or amqps:// (got ${url.protocol}//)`,
    );
  }
  const params = url.searchParams;
  const take = (name: string): string | undefined => {
    const value = params.get(name) ?? undefined;
    params.delete(name);
    return value;
  };

  const queueType = take("queue_type") ?? "classic";
  if (queueType !== "classic" && queueType !== "quorum") {
    throw new InvalidArgumentError(
      `queue_type must be classic or quorum (got ${JSON.stringify(queueType)})`,
    );
  }
  const prefix = take("prefix") ?? "gotaskq.";
  if (!PREFIX_PATTERN.test(prefix)) {
    throw new InvalidArgumentError(
      `prefix must match ${PREFIX_PATTERN} (got ${JSON.stringify(prefix.slice(0, 80))})`,
    );
  }
  const numbers: Record<string, number> = {};
  for (const [name, [key, fallback, min, max]] of Object.entries(INTEGER_OPTIONS)) {
    const text = take(name);
    const value = text === undefined ? fallback : Number(text);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(
        `${name} in GOTASKQ_BROKER_URL must be an integer between ${min} and ${max} (got ${JSON.stringify(text)})`,
      );
    }
    numbers[key] = value;
  }
  return {
    url: url.toString(),
    where: `${url.protocol}//${url.hostname}:${url.port || (url.protocol === "amqps:" ? 5671 : 5672)}${url.pathname.length > 1 ? url.pathname : ""}`,
    prefix,
    queueType,
    ...(numbers as Pick<
      RabbitOptions,
      | "consumerTimeoutMs"
      | "deliveryLimit"
      | "publishTimeoutMs"
      | "connectTimeoutMs"
      | "controlRetentionMs"
    >),
  };
}

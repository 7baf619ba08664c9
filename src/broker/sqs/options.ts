import { InvalidArgumentError } from "../../core/errors.js";

// Configuration of the SQS broker: one documented type, defaults applied in one pure function,
// and the `sqs://?…` URL form GOTASKQ_BROKER_URL uses. Credentials never travel in the URL: they
// come from the standard AWS chain (environment, shared config and SSO, web identity, ECS/EC2
// roles), or, for an emulator on a loopback endpoint with no AWS credentials configured, from
// a fixed dummy pair (emulators accept any).

export interface SqsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface SqsBrokerOptions {
  /** AWS region. Default: AWS_REGION / AWS_DEFAULT_REGION; required when neither is set. */
  region?: string;
  /** Custom endpoint (an emulator such as fauxqs, or a VPC endpoint). Default: AWS's. */
  endpoint?: string;
  /** Prepended to every queue this broker creates ([A-Za-z0-9_-], ≤ 40 chars). Default "gotaskq-". */
  prefix?: string;
  /**
   * Priority lanes per queue, 1–10 (default 3). Priority p (0–9) goes to lane floor(p·lanes/10):
   * with 3 lanes, 0–3 low, 4–6 normal, 7–9 high; with 10 lanes each priority has its own queue.
   */
  lanes?: number;
  /**
   * Largest SQS message (body plus GoTaskQ's attributes) in bytes, 1 024–1 048 576. Default
   * 1 048 576 (AWS's limit since 2025 and the emulator's). Lower it for a region or account
   * still on 262 144. The broker keeps 4 KiB of it for attributes (`limits.maxMessageBytes`).
   */
  maxMessageBytes?: number;
  /** SQS receives before the native redrive policy moves a message to the DLQ (`poison`). Default 10. */
  maxReceiveCount?: number;
  /** Parallel receive loops per subscription. Default max(lanes, ceil(prefetch / 10)), at most 32. */
  receivers?: number;
  /** Long-poll wait of an idle receive loop (s, 1–20). Default 20 with one lane, else 2. */
  waitSeconds?: number;
  /** How long revocations are replayed to new control subscribers (ms). Default 30 days. */
  revocationRetentionMs?: number;
  /**
   * FIFO lane queues (default false: standard queues). Order is kept per GoTaskQ queue and lane
   * (the message group), one message of a group in flight at a time; see the README for the
   * differences (delays go through a standard companion queue, no native redrive).
   */
  fifo?: boolean;
  /** Static credentials instead of the AWS chain (tests, emulators). */
  credentials?: SqsCredentials;
  /** SDK attempts per call (1 = no retry). Default 3: an unreachable endpoint fails within seconds. */
  maxAttempts?: number;
  /** Clock (epoch ms) for leases and due times. Default Date.now. */
  now?: () => number;
}

export interface ResolvedSqsOptions {
  region: string;
  endpoint: string | undefined;
  prefix: string;
  lanes: number;
  sqsMaxBytes: number;
  maxReceiveCount: number;
  receivers: number | undefined;
  waitSeconds: number | undefined;
  revocationRetentionMs: number;
  fifo: boolean;
  credentials: SqsCredentials | undefined;
  maxAttempts: number;
  now: () => number;
}

export const SQS_MAX_BYTES = 1_048_576;
export const DEFAULT_PREFIX = "gotaskq-";
export const DEFAULT_LANES = 3;
export const DEFAULT_MAX_RECEIVE_COUNT = 10;
export const DEFAULT_REVOCATION_RETENTION_MS = 30 * 86_400_000;

function intIn(
  name: string,
  value: number | undefined,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `sqs broker option ${name} must be an integer between ${min} and ${max} (got ${value})`,
    );
  }
  return value;
}

export function resolveSqsOptions(
  options: SqsBrokerOptions,
  env: NodeJS.ProcessEnv = process.env,
): ResolvedSqsOptions {
  const region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (!region || !/^[a-z0-9-]{2,32}$/.test(region)) {
    throw new InvalidArgumentError(
      `the SQS broker needs a region: add ?region=us-east-1 to the sqs:// URL or set AWS_REGION (got ${JSON.stringify(region ?? null)})`,
    );
  }
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!/^[A-Za-z0-9_-]{0,40}$/.test(prefix)) {
    throw new InvalidArgumentError(
      `sqs prefix must be at most 40 characters of A-Z a-z 0-9 _ - (got ${JSON.stringify(prefix)})`,
    );
  }
  if (options.endpoint !== undefined) {
    try {
      new URL(options.endpoint);
    } catch {
      throw new InvalidArgumentError(
        `sqs endpoint must be a URL such as http://127.0.0.1:4566 (got ${JSON.stringify(options.endpoint)})`,
      );
    }
  }
  return {
    region,
    endpoint: options.endpoint,
    prefix,
    lanes: intIn("lanes", options.lanes, 1, 10) ?? DEFAULT_LANES,
    sqsMaxBytes:
      intIn("maxMessageBytes", options.maxMessageBytes, 8_192, SQS_MAX_BYTES) ?? SQS_MAX_BYTES,
    maxReceiveCount:
      intIn("maxReceiveCount", options.maxReceiveCount, 1, 1_000) ?? DEFAULT_MAX_RECEIVE_COUNT,
    receivers: intIn("receivers", options.receivers, 1, 32),
    waitSeconds: intIn("waitSeconds", options.waitSeconds, 1, 20),
    revocationRetentionMs:
      intIn("revocationRetentionMs", options.revocationRetentionMs, 1_000, 365 * 86_400_000) ??
      DEFAULT_REVOCATION_RETENTION_MS,
    fifo: options.fifo === true,
    credentials: options.credentials,
    maxAttempts: intIn("maxAttempts", options.maxAttempts, 1, 10) ?? 3,
    now: options.now ?? Date.now,
  };
}

const URL_OPTIONS = [
  "region",
  "endpoint",
  "prefix",
  "lanes",
  "maxMessageBytes",
  "maxReceiveCount",
  "receivers",
  "waitSeconds",
  "fifo",
] as const;

/** `sqs://?region=us-east-1&endpoint=http://127.0.0.1:4566&prefix=app-&lanes=3` → options. */
export function parseSqsUrl(url: string): SqsBrokerOptions {
  const query = url.replace(/^sqs:\/\/[^?]*\??/i, "");
  const params = new URLSearchParams(query);
  const options: SqsBrokerOptions = {};
  for (const [key, value] of params) {
    if (!(URL_OPTIONS as readonly string[]).includes(key)) {
      throw new InvalidArgumentError(
        `unknown sqs:// URL option ${JSON.stringify(key)}; known: ${URL_OPTIONS.join(", ")}`,
      );
    }
    if (key === "fifo") {
      if (value !== "true" && value !== "false") {
        throw new InvalidArgumentError(
          `sqs:// URL option fifo must be true or false (got ${JSON.stringify(value)})`,
        );
      }
      options.fifo = value === "true";
      continue;
    }
    if (key === "region" || key === "endpoint" || key === "prefix") {
      options[key] = value;
      continue;
    }
    const n = Number(value);
    if (!/^\d+$/.test(value)) {
      throw new InvalidArgumentError(
        `sqs:// URL option ${key} must be a whole number (got ${JSON.stringify(value)})`,
      );
    }
    options[key as "lanes"] = n;
  }
  return options;
}

import { Agent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient } from "@aws-sdk/client-sqs";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import type { ResolvedSqsOptions } from "./options.js";

// The SDK clients and the one place SDK errors become GoTaskQErrors. Two clients share the
// options: `calls` for everything short (request timeout 10 s) and `polls` for long polls
// (timeout = longest wait + 10 s), so a hung connection cannot outlive either. Retries are the
// SDK's standard mode, bounded by `maxAttempts` (default 3), with a 2 s connect timeout: an
// unreachable endpoint fails within seconds as `unavailable` (REST 503), never hangs.

export interface SqsClients {
  calls: SQSClient;
  polls: SQSClient;
  destroy(): void;
}

const LOOPBACK = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)$/;

function credentialsFor(options: ResolvedSqsOptions) {
  if (options.credentials) return options.credentials;
  // An emulator on this machine accepts any credentials; use dummy ones unless the user set
  // some, so `sqs://?endpoint=http://127.0.0.1:4566` works without AWS configuration.
  if (options.endpoint && LOOPBACK.test(new URL(options.endpoint).hostname)) {
    const env = process.env;
    if (!env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE && !env.AWS_WEB_IDENTITY_TOKEN_FILE) {
      return { accessKeyId: "gotaskq-local", secretAccessKey: "gotaskq-local" };
    }
  }
  return undefined; // the SDK's default chain
}

export function createClients(options: ResolvedSqsOptions): SqsClients {
  const make = (requestTimeout: number) => {
    const agentOptions = { keepAlive: true, maxSockets: 256 };
    const credentials = credentialsFor(options);
    return new SQSClient({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      ...(credentials ? { credentials } : {}),
      maxAttempts: options.maxAttempts,
      // The SDK builds its Node handler from these (no direct dependency on @smithy's).
      requestHandler: {
        connectionTimeout: 2_000,
        requestTimeout,
        httpAgent: new Agent(agentOptions),
        httpsAgent: new HttpsAgent(agentOptions),
      },
    });
  };
  const calls = make(10_000);
  const polls = make(30_000);
  return {
    calls,
    polls,
    destroy() {
      calls.destroy();
      polls.destroy();
    },
  };
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $fault?: "client" | "server";
}

function shape(error: unknown): SdkErrorShape {
  return typeof error === "object" && error !== null ? (error as SdkErrorShape) : {};
}

/** The SQS error code (AWS.SimpleQueueService.NonExistentQueue → NonExistentQueue). */
export function errorCode(error: unknown): string {
  const s = shape(error);
  const name = s.name ?? s.code ?? "";
  return name.replace(/^AWS\.SimpleQueueService\./, "");
}

export function isQueueMissing(error: unknown): boolean {
  if (error instanceof GoTaskQError && error.cause !== undefined)
    return isQueueMissing(error.cause);
  const code = errorCode(error);
  return code === "QueueDoesNotExist" || code === "NonExistentQueue";
}

/** A receipt handle that no longer names a message this consumer holds (the lease was lost). */
export function isHandleGone(code: string | undefined): boolean {
  return (
    code === "ReceiptHandleIsInvalid" ||
    code === "MessageNotInflight" ||
    code === "InvalidParameterValue" ||
    code === "AWS.SimpleQueueService.MessageNotInflight"
  );
}

const CONNECTIVITY =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|socket hang up|TimeoutError|RequestTimeout|ERR_HTTP|aborted/i;
const THROTTLED =
  /Throttl|RequestThrottled|ServiceUnavailable|InternalError|KmsThrottled|SlowDown/i;
const CREDENTIALS =
  /CredentialsProviderError|InvalidClientTokenId|SignatureDoesNotMatch|ExpiredToken|UnrecognizedClient|AccessDenied|InvalidSecurity|MissingAuthenticationToken/i;

/**
 * Every SDK failure a caller can see, as a GoTaskQError: connectivity, throttling, 5xx and
 * missing or refused credentials mean "the broker cannot take this now" (`unavailable`, REST
 * 503), with what to check in the message. Our own errors pass through; anything else is a bug
 * of ours (an invalid request) and becomes `internal`.
 */
export function toDomainError(error: unknown, doing: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const s = shape(error);
  const code = errorCode(error);
  const message = s.message ?? String(error);
  const text = `${code} ${s.code ?? ""} ${message}`;
  if (CREDENTIALS.test(text)) {
    return new UnavailableError(
      `sqs broker: ${doing} was refused (${code}: ${message}); check the AWS credentials and the IAM permissions listed in the README`,
      { cause: error },
    );
  }
  const status = s.$metadata?.httpStatusCode;
  if (
    CONNECTIVITY.test(text) ||
    THROTTLED.test(text) ||
    s.$fault === "server" ||
    (status !== undefined && status >= 500) ||
    status === undefined
  ) {
    return new UnavailableError(
      `sqs broker: ${doing} failed: ${message} (${code || "no response"})`,
      {
        cause: error,
      },
    );
  }
  return new GoTaskQError("internal", `sqs broker: ${doing} failed: ${code}: ${message}`, {
    cause: error,
  });
}

import { GoTaskQError, InvalidArgumentError } from "../core/errors.js";
import { MAX_PRIORITY, QUEUE_PATTERN } from "../core/submission.js";
import {
  type BrokerLimits,
  type ConsumeOptions,
  type ControlCommand,
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  type DeadLetterSelector,
  type OutgoingMessage,
  type PresenceCommand,
} from "./broker.js";

// Argument checks of the broker seam, applied once for every adapter by the guards
// (guarded-broker.ts for the Broker, its dead letters and control channel; guarded-delivery.ts
// for deliveries) before a backend is touched, so that all adapters refuse the same inputs with
// the same messages (the conformance suite relies on it) and a publish is all-or-nothing: nothing
// is sent when any message of a batch is invalid.

/** A second settle of the same delivery (each delivery is settled exactly once). */
export function alreadySettled(id: string, how: string): GoTaskQError {
  return new GoTaskQError(
    "conflict",
    `delivery of ${id} was already settled (${how}); settle it once`,
  );
}

export function checkQueueName(queue: unknown): string {
  if (typeof queue !== "string" || !QUEUE_PATTERN.test(queue)) {
    throw new InvalidArgumentError(
      `queue must match ${QUEUE_PATTERN} (got ${JSON.stringify(typeof queue === "string" ? queue.slice(0, 80) : queue)})`,
    );
  }
  return queue;
}

export function checkBody(limits: BrokerLimits, id: string, body: Uint8Array): void {
  if (!(body instanceof Uint8Array)) {
    throw new InvalidArgumentError(`message ${id}: body must be a Uint8Array`);
  }
  if (body.byteLength > limits.maxMessageBytes) {
    throw new InvalidArgumentError(
      `message ${id} is ${body.byteLength} bytes; this broker accepts at most ${limits.maxMessageBytes} bytes (shrink the payload)`,
    );
  }
}

export function checkDelay(limits: BrokerLimits, id: string, delayMs: number): void {
  if (!Number.isInteger(delayMs) || delayMs < 0 || delayMs > limits.maxDelayMs) {
    throw new InvalidArgumentError(
      `message ${id}: delayMs must be an integer between 0 and ${limits.maxDelayMs} (got ${delayMs})`,
    );
  }
}

export function checkOutgoing(
  limits: BrokerLimits,
  queue: string,
  messages: readonly OutgoingMessage[],
): void {
  checkQueueName(queue);
  if (!Array.isArray(messages)) throw new InvalidArgumentError("messages must be an array");
  for (const m of messages) {
    if (typeof m.id !== "string" || m.id.length === 0 || m.id.length > 256) {
      throw new InvalidArgumentError(
        `message id must be a non-empty string of at most 256 characters (got ${JSON.stringify(m.id)})`,
      );
    }
    if (!Number.isInteger(m.priority) || m.priority < 0 || m.priority > MAX_PRIORITY) {
      throw new InvalidArgumentError(
        `message ${m.id}: priority must be an integer between 0 and ${MAX_PRIORITY} (got ${m.priority})`,
      );
    }
    checkDelay(limits, m.id, m.delayMs);
    checkBody(limits, m.id, m.body);
  }
}

export function checkConsume(queues: readonly string[], options: ConsumeOptions): void {
  if (!Array.isArray(queues) || queues.length === 0) {
    throw new InvalidArgumentError("consume needs at least one queue name");
  }
  for (const q of queues) checkQueueName(q);
  if (!Number.isInteger(options.prefetch) || options.prefetch < 1 || options.prefetch > 10_000) {
    throw new InvalidArgumentError(
      `prefetch must be an integer between 1 and 10000 (got ${options.prefetch})`,
    );
  }
  if (!Number.isInteger(options.leaseMs) || options.leaseMs < 1 || options.leaseMs > 86_400_000) {
    throw new InvalidArgumentError(
      `leaseMs must be an integer between 1 and 86400000 (got ${options.leaseMs})`,
    );
  }
}

export function checkLeaseMs(ms: number): void {
  if (!Number.isInteger(ms) || ms < 1 || ms > 86_400_000) {
    throw new InvalidArgumentError(
      `extendLease ms must be an integer between 1 and 86400000 (got ${ms})`,
    );
  }
}

/**
 * Runs a consumer callback so that a throwing callback cannot corrupt the broker's own loop: the
 * error is rethrown on a fresh task (an uncaught exception, like an EventEmitter listener's),
 * because a callback that throws is a bug in our own worker that must not pass silently.
 */
export function invokeCallback<T>(callback: (value: T) => void, value: T): void {
  try {
    callback(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** Largest encoded presence beat (bytes): fits every backend's message limit (SQS: 256 KiB). */
export const MAX_PRESENCE_BYTES = 200_000;

export function checkCommand(command: ControlCommand): void {
  if (command?.type === "presence") {
    checkPresence(command);
    return;
  }
  if (
    command?.type !== "revoke" ||
    typeof command.taskId !== "string" ||
    command.taskId.length === 0 ||
    !Number.isFinite(command.at)
  ) {
    throw new InvalidArgumentError(
      `control command must be {type:"revoke", taskId: non-empty string, at: epoch ms} or {type:"presence", workerId, queues, functions, ttlMs, at} (got ${JSON.stringify(command)?.slice(0, 200)})`,
    );
  }
}

function checkPresence(command: PresenceCommand): void {
  const strings = (v: unknown) =>
    Array.isArray(v) && v.every((s) => typeof s === "string" && s.length > 0);
  if (
    typeof command.workerId !== "string" ||
    command.workerId.length === 0 ||
    !strings(command.queues) ||
    !strings(command.functions) ||
    !Number.isInteger(command.ttlMs) ||
    command.ttlMs < 0 ||
    !Number.isFinite(command.at)
  ) {
    throw new InvalidArgumentError(
      `presence must be {type:"presence", workerId: non-empty string, queues: string[], functions: string[], ttlMs: integer >= 0, at: epoch ms} (got ${JSON.stringify(command).slice(0, 200)})`,
    );
  }
  const bytes = Buffer.byteLength(encodeCommand(command));
  if (bytes > MAX_PRESENCE_BYTES) {
    throw new InvalidArgumentError(
      `presence of worker ${command.workerId} is ${bytes} bytes encoded, over ${MAX_PRESENCE_BYTES}: register fewer function keys per worker (${command.functions.length} now)`,
    );
  }
}

/** The JSON adapters send: the command's own fields only, in a fixed order. */
export function encodeCommand(command: ControlCommand): string {
  if (command.type === "revoke") {
    return JSON.stringify({ type: "revoke", taskId: command.taskId, at: command.at });
  }
  const { workerId, queues, functions, ttlMs, at } = command;
  return JSON.stringify({ type: "presence", workerId, queues, functions, ttlMs, at });
}

/** Decodes what `encodeCommand` wrote; undefined for anything else (a foreign or garbled message). */
export function decodeCommand(text: string): ControlCommand | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (v.type === "revoke") {
    if (typeof v.taskId !== "string" || v.taskId.length === 0 || !Number.isFinite(v.at))
      return undefined;
    return { type: "revoke", taskId: v.taskId, at: v.at as number };
  }
  if (v.type === "presence") {
    const command = {
      type: "presence" as const,
      workerId: v.workerId as string,
      queues: v.queues as string[],
      functions: v.functions as string[],
      ttlMs: v.ttlMs as number,
      at: v.at as number,
    };
    try {
      checkPresence(command);
    } catch {
      return undefined;
    }
    return command;
  }
  return undefined;
}

export function checkDeadLetterReason(reason: unknown): DeadLetterReason {
  if (!DEAD_LETTER_REASONS.includes(reason as DeadLetterReason)) {
    throw new InvalidArgumentError(
      `dead-letter reason must be one of ${DEAD_LETTER_REASONS.join(", ")} (got ${JSON.stringify(reason)})`,
    );
  }
  return reason as DeadLetterReason;
}

export function checkListOptions(options: { limit: number; reason?: DeadLetterReason }): void {
  if (!Number.isInteger(options.limit) || options.limit < 1 || options.limit > 1000) {
    throw new InvalidArgumentError(
      `limit must be an integer between 1 and 1000 (got ${options.limit})`,
    );
  }
  if (options.reason !== undefined && !DEAD_LETTER_REASONS.includes(options.reason)) {
    throw new InvalidArgumentError(
      `reason must be one of ${DEAD_LETTER_REASONS.join(", ")} (got ${JSON.stringify(options.reason)})`,
    );
  }
}

/** Dead-letter cursors are the last entry's sequence number, as a decimal string. */
export function parseSeqCursor(cursor: string | undefined): number {
  if (cursor === undefined) return 0;
  if (typeof cursor !== "string" || !/^\d{1,15}$/.test(cursor)) {
    throw new InvalidArgumentError(
      `cursor must be the nextCursor of a previous page (got ${JSON.stringify(String(cursor).slice(0, 40))})`,
    );
  }
  return Number(cursor);
}

export function checkSelector(selector: DeadLetterSelector): void {
  if (typeof selector !== "object" || selector === null) {
    throw new InvalidArgumentError(
      'requeue selector must be {ids: [...]}, {reason: "..."} or {all: true}',
    );
  }
  if ("ids" in selector) {
    if (!Array.isArray(selector.ids) || selector.ids.some((id) => typeof id !== "string")) {
      throw new InvalidArgumentError("requeue selector ids must be an array of task id strings");
    }
    return;
  }
  if ("reason" in selector) {
    checkDeadLetterReason(selector.reason);
    return;
  }
  if (!("all" in selector) || selector.all !== true) {
    throw new InvalidArgumentError(
      'requeue selector must be {ids: [...]}, {reason: "..."} or {all: true}',
    );
  }
}

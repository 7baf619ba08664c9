import { randomBytes } from "node:crypto";
import type { DeadLetterReason } from "../broker.js";
import type { Outgoing } from "./publisher.js";
import { delayRoute, type Names } from "./topology.js";

// How a GoTaskQ message is laid out in AMQP: the task id is the message-id property, the body is
// the envelope bytes untouched, the priority is the AMQP priority, and GoTaskQ's own bookkeeping
// travels in x-gotaskq-* headers. Re-published messages always get fresh headers (never the
// broker's x-death history of an earlier trip through the delay ladder).

/** Deliveries of this message that ended without a settle before it was re-published. */
export const RETURNS_HEADER = "x-gotaskq-returns";
export const REASON_HEADER = "x-gotaskq-reason";
export const DETAIL_HEADER = "x-gotaskq-detail";
export const AT_HEADER = "x-gotaskq-dead-lettered-at";
/** Sort key and cursor of a DLQ entry: dead-lettering time, then random (unique). */
export const KEY_HEADER = "x-gotaskq-key";

export function asBuffer(body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

/** A message for work queue `queue`, through the delay ladder when `delayMs` > 0. */
export function workMessage(
  names: Names,
  queue: string,
  m: { id: string; body: Uint8Array; priority: number; delayMs: number },
  returns = 0,
): Outgoing {
  let exchange = "";
  let routingKey: string;
  if (m.delayMs > 0) ({ exchange, routingKey } = delayRoute(names, queue, m.delayMs));
  else routingKey = names.work(queue);
  // Built without spreads: this runs once per published message.
  const options: Outgoing["options"] = {
    messageId: m.id,
    priority: m.priority,
    persistent: true,
    mandatory: true,
  };
  if (returns > 0) options.headers = { [RETURNS_HEADER]: returns };
  return { exchange, routingKey, content: asBuffer(m.body), options };
}

export function deadLetterMessage(
  names: Names,
  queue: string,
  m: { id: string; body: Uint8Array; reason: DeadLetterReason; detail: string; at: number },
): Outgoing {
  return {
    exchange: "",
    routingKey: names.deadLetters(queue),
    content: asBuffer(m.body),
    options: {
      messageId: m.id,
      persistent: true,
      mandatory: true,
      headers: {
        [REASON_HEADER]: m.reason,
        [DETAIL_HEADER]: m.detail,
        [AT_HEADER]: m.at,
        [KEY_HEADER]: deadLetterKey(m.at),
      },
    },
  };
}

export function deadLetterKey(at: number): string {
  return `${String(at).padStart(15, "0")}-${randomBytes(6).toString("hex")}`;
}

export function numberHeader(headers: Record<string, unknown> | undefined, name: string): number {
  const value = headers?.[name];
  return typeof value === "number" && Number.isFinite(value) ? value : 0;
}

// The broker seam: the only source of truth for delivery.
//
// Guarantees every implementation gives (and the shared conformance suite in
// `conformance/broker.case.ts` checks against a real server):
// - `publish` resolves only once every message is durable; if it rejects, assume none was sent
//   unless the error says otherwise (callers retry; delivery is at-least-once anyway).
// - Each message is delivered to one consumer at a time, and leaves the broker only through
//   `ack`, `retry` (next attempt durable first, then ack), `deadLetter` (DLQ copy durable first,
//   then ack). A delivery that is never settled comes back after its lease expires.
// - A consumer never holds more than `prefetch` unsettled deliveries.
// - Delayed messages are not delivered before their time and never block messages behind them.
// - Higher `priority` messages that are ready are delivered before lower ones (exactness per
//   backend is documented in its skip list).
// - The control channel reaches every subscriber, and a new subscriber first receives the
//   revocations of the retention window (so a cancel survives worker restarts). Presence beats
//   reach the subscribers of the moment only, best-effort, and are neither retained nor replayed.
// - Lease lost: when a delivery's lease expired AND another consumer has since claimed the message,
//   `ack`/`retry`/`deadLetter`/`extendLease` on the old delivery change nothing and reject with
//   `LeaseLostError` (code `conflict`): the new holder owns the message, and the old one learns
//   that its outcome was discarded (the task runs again: at-least-once). `release` resolves
//   quietly in that case (the message is already available to others). A lease that expired but
//   was not yet claimed by anyone is still the old holder's: its settle or extension succeeds.
// - A delivery is settled once; a second settle rejects with code `conflict`. Settling after the
//   broker client was closed rejects with `UnavailableError`. Settling (even a rejected one)
//   frees the delivery's prefetch slot; an expired lease does not, because the handler may still
//   be running.
//
// Internal: reshape freely, but keep it this small. SDK types never cross it; adapters translate
// backend errors into `GoTaskQError`s (`unavailable` for connectivity) once, at the boundary.

import { GoTaskQError } from "../core/errors.js";

/** The delivery's lease expired and another consumer claimed the message; see above. */
export class LeaseLostError extends GoTaskQError {
  constructor(message: string) {
    super("conflict", message);
  }
}

export type DeadLetterReason =
  | "retries_exhausted"
  | "permanent_error"
  | "unknown_function"
  | "decode_error"
  | "poison"
  | "timeout";

export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = [
  "retries_exhausted",
  "permanent_error",
  "unknown_function",
  "decode_error",
  "poison",
  "timeout",
];

export interface BrokerLimits {
  /** Largest message body the broker accepts, in bytes. */
  maxMessageBytes: number;
  /** Longest delay `publish`/`retry` accept, in milliseconds. */
  maxDelayMs: number;
  /** Number of distinct priority levels honoured (10 = all of 0–9). */
  priorities: number;
  /**
   * Longest a delivery may stay unsettled, extensions or not, before the broker takes it back
   * (RabbitMQ's consumer_timeout). Absent: no bound (leases are extended while a task runs).
   */
  maxHoldMs?: number;
}

export interface OutgoingMessage {
  /** The task id. Not necessarily unique in the broker across attempts of one task. */
  id: string;
  body: Uint8Array;
  /** 0–9, higher first. */
  priority: number;
  /** 0 = deliverable now. */
  delayMs: number;
}

export interface ConsumeOptions {
  /** Most unsettled deliveries this subscription holds at once (the worker's free slots). */
  prefetch: number;
  /** How long a delivery stays invisible to others unless extended (ms). */
  leaseMs: number;
}

export interface Delivery {
  readonly id: string;
  readonly queue: string;
  readonly body: Uint8Array;
  /** 1 on first delivery; counts deliveries that ended without being settled, plus this one. */
  readonly deliveryCount: number;
  ack(): Promise<void>;
  /** Durably publishes the next attempt (after `delayMs`), then acks this delivery. */
  retry(nextBody: Uint8Array, delayMs: number): Promise<void>;
  /** Durably stores this message in the queue's DLQ with the reason, then acks it. */
  deadLetter(reason: DeadLetterReason, detail: string): Promise<void>;
  /** Gives the message back for immediate redelivery (shutdown), without counting a failure. */
  release(): Promise<void>;
  /** Keeps the message invisible to others for `ms` more from now. */
  extendLease(ms: number): Promise<void>;
}

export interface Subscription {
  /** Stops new deliveries. Unsettled deliveries stay valid and must still be settled. */
  close(): Promise<void>;
}

export interface DeadLetterEntry {
  id: string;
  queue: string;
  body: Uint8Array;
  reason: DeadLetterReason;
  detail: string;
  /** Epoch ms. */
  deadLetteredAt: number;
}

export interface DeadLetterPage {
  entries: DeadLetterEntry[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

export type DeadLetterSelector =
  | { ids: readonly string[] }
  | { reason: DeadLetterReason }
  | { all: true };

export interface DeadLetterQueue {
  list(options: {
    limit: number;
    cursor?: string;
    reason?: DeadLetterReason;
  }): Promise<DeadLetterPage>;
  /**
   * Publishes `rewrite(body)` of each selected entry back to the queue and removes the entry.
   * Returns the entries requeued, so callers can report which tasks run again.
   */
  requeue(
    selector: DeadLetterSelector,
    rewrite: (entry: DeadLetterEntry) => OutgoingMessage,
  ): Promise<DeadLetterEntry[]>;
}

/** Cancels a task. Kept for the retention window and replayed to new subscribers. */
export interface RevokeCommand {
  type: "revoke";
  taskId: string;
  /** When the revocation was issued (epoch ms). */
  at: number;
}

/**
 * A worker saying it is alive and what it runs, sent every few seconds. Live only: never
 * retained nor replayed, and best-effort (a lost beat is covered by the next one), so adapters
 * may send it on a cheaper path than revocations. Receivers count the worker alive for `ttlMs`
 * after receipt (their own clock: no skew between hosts); `ttlMs: 0` says it is leaving.
 */
export interface PresenceCommand {
  type: "presence";
  workerId: string;
  /** Queues it consumes. */
  queues: string[];
  /** Function keys it registers. */
  functions: string[];
  ttlMs: number;
  /** When it was sent (epoch ms, the sender's clock; informative only). */
  at: number;
}

export type ControlCommand = RevokeCommand | PresenceCommand;

export interface ControlChannel {
  broadcast(command: ControlCommand): Promise<void>;
  /**
   * Subscribes to commands; revocations still within retention are replayed first, presence
   * never is (a subscriber hears each live worker within one of its intervals).
   */
  subscribe(handler: (command: ControlCommand) => void): Promise<Subscription>;
}

export interface QueueStats {
  queue: string;
  /** Deliverable now. */
  ready: number;
  /** Delivered and not yet settled. */
  inFlight: number;
  /** Waiting for their delay (scheduled tasks and retries). */
  delayed: number;
  deadLettered: number;
}

export interface Broker {
  readonly kind: string;
  readonly limits: BrokerLimits;
  publish(queue: string, messages: readonly OutgoingMessage[]): Promise<void>;
  /** Delivers messages of the given queues to `onDelivery`, never more than `prefetch` unsettled. */
  consume(
    queues: readonly string[],
    options: ConsumeOptions,
    onDelivery: (delivery: Delivery) => void,
  ): Promise<Subscription>;
  deadLetters(queue: string): DeadLetterQueue;
  readonly control: ControlChannel;
  stats(queue: string): Promise<QueueStats>;
  /** Queues known to the broker (ever published to or consumed from). */
  queues(): Promise<string[]>;
  /** Resolves when the broker answers; rejects with `unavailable` otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

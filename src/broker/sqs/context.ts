import type { BrokerLimits } from "../broker.js";
import type { Batcher, VisibilityChange } from "./batcher.js";
import type { ResolvedSqsOptions } from "./options.js";
import type { SqsClients } from "./sdk.js";
import type { SqsEntry } from "./sender.js";
import type { Topology } from "./topology.js";

// What the pieces of one SQS broker client share: its SDK clients, queue topology, batchers and
// options, plus the two sends every settle path needs (to a lane, to the DLQ), which recreate a
// queue that vanished and retry once.

export interface SqsContext {
  readonly clients: SqsClients;
  readonly topology: Topology;
  readonly options: ResolvedSqsOptions;
  readonly limits: BrokerLimits;
  readonly deletes: Batcher<string>;
  readonly visibility: Batcher<VisibilityChange>;
  now(): number;
  isClosed(): boolean;
  sendToLane(queue: string, lane: number, entries: readonly SqsEntry[]): Promise<void>;
  sendToDeadLetters(queue: string, entries: readonly SqsEntry[]): Promise<void>;
  /** Counts an operation that `close` waits for. */
  track<T>(work: Promise<T>): Promise<T>;
}

/** SQS hides a received message for at most 12 hours; leases stop 5 minutes short of that. */
export const MAX_VISIBLE_MS = 12 * 3_600_000 - 5 * 60_000;

/** SQS counts visibility and delays in whole seconds: never shorter than asked. */
export function toSeconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1_000));
}

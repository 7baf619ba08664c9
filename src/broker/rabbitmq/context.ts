import type { BrokerLimits } from "../broker.js";
import type { Link } from "./link.js";
import type { RabbitOptions } from "./options.js";
import type { Publisher } from "./publisher.js";
import type { Names, Topology } from "./topology.js";

/** What the pieces of one RabbitMQ broker client share. */
export interface RabbitContext {
  readonly options: RabbitOptions;
  readonly limits: BrokerLimits;
  readonly names: Names;
  readonly topology: Topology;
  readonly publisher: Publisher;
  /** Deliveries, acks and DLQ reads: kept apart from publishing (see link.ts). */
  readonly consumerLink: Link;
  /** Declares `queue` (with its DLQ and delay ladder) and records it for `queues()`, once. */
  prepare(queue: string): Promise<void>;
  /** Forgets every declaration made (a queue was deleted on the broker): declare on next use. */
  redeclare(): void;
  /** The error settles and calls get once the client was closed, else undefined. */
  closedError(): Error | undefined;
}

import type { ConformanceCase } from "../../../test/support/conformance-suite.js";
import type { Broker } from "../broker.js";

// What the broker conformance suite checks, case by case, and what each case is handed. Case
// files import this and nothing else of the suite, so the suite's entry (broker.case.ts) can
// import them all without a cycle.

/** Every case, by stable name (used in skip lists), with the title the test report shows. */
export const BROKER_CASES = {
  "durable-publish": "a published message survives its publisher's client and reaches a new client",
  "exclusive-delivery": "delivers each message to exactly one of several concurrent consumers",
  "ack-removes": "an acked message is gone: stats are zero and it is never redelivered",
  "redelivery-after-death":
    "redelivers a dead consumer's unsettled message to another client with deliveryCount 2",
  "lease-lost": "a settle on a lost lease changes nothing and rejects; the new holder keeps it",
  "lease-extension": "extending the lease keeps a long task from being redelivered",
  "retry-delay": "a retry with delay is not delivered early and does not block later messages",
  "delayed-publish": "a delayed publish is not delivered before its delay",
  "priority-order": "delivers waiting messages in non-increasing priority",
  "fifo-within-priority": "delivers messages of one priority in publish order",
  "several-queues": "one subscription consumes several queues and each delivery names its queue",
  "dead-letter-queue":
    "dead-letters with reason and detail, lists with paging and filter, requeues by ids, reason and all",
  release: "a released message is redelivered at once without counting a failed delivery",
  revocation: "a revocation reaches running subscribers and is replayed to later ones",
  presence: "a presence beat reaches running subscribers and is never replayed to later ones",
  prefetch: "never holds more unsettled deliveries than a subscription's prefetch",
  stats: "stats add up: ready, in flight, delayed and dead-lettered at a known state",
  close:
    "closing is clean: a closed subscription gets nothing, a closed client rejects, no handles leak",
  "batch-10k": "10,000 messages go through without loss or duplication",
  oversize: "refuses a message over maxMessageBytes and enqueues nothing of its batch",
} as const;

export type BrokerCaseName = keyof typeof BROKER_CASES;

/** What a case gets: clients opened through it are closed after the case, whatever happens. */
export interface BrokerCaseContext {
  /** Another client on the harness's isolated namespace, as another process would connect. */
  open(): Promise<Broker>;
  /** Lease used by the case's consumers (ms). */
  leaseMs: number;
  /** A queue name of the harness's isolated namespace. */
  queue: string;
}

export type BrokerCase = ConformanceCase<BrokerCaseContext>;

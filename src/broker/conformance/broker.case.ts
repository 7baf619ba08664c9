import { afterEach, beforeEach, describe, it } from "vitest";
import type { Broker } from "../broker.js";
import { DELIVERY_CASES } from "./delivery.case.js";
import { LEASE_CASES } from "./lease.case.js";
import { MANAGEMENT_CASES } from "./management.case.js";
import { ORDERING_CASES } from "./ordering.case.js";

// The broker conformance suite: the one specification of the Broker seam that every
// implementation (memory, sqlite, and later rabbitmq, redis, sqs) runs against a real backend.
// It uses only the seam, never backend internals. A backend that cannot honour a case lists it in
// `skip` with its reason; the reason is printed and the case shows as skipped, so a gap is always
// visible. Leases are short (default 400 ms) so the suite stays fast; every wait is bounded.

export interface BrokerHarness {
  /** Opens a client on a fresh, isolated namespace shared by all clients opened from this harness instance. */
  open(): Promise<Broker>;
  /** Removes everything the harness created. */
  cleanup(): Promise<void>;
}

/** What a case gets: clients opened through it are closed after the case, whatever happens. */
export interface CaseContext {
  open(): Promise<Broker>;
  /** Lease used by the case's consumers (ms). */
  leaseMs: number;
  /** A queue name of the harness's isolated namespace. */
  queue: string;
}

export type BrokerCase = (context: CaseContext) => Promise<void>;

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
  prefetch: "never holds more unsettled deliveries than a subscription's prefetch",
  stats: "stats add up: ready, in flight, delayed and dead-lettered at a known state",
  close:
    "closing is clean: a closed subscription gets nothing, a closed client rejects, no handles leak",
  "batch-10k": "10,000 messages go through without loss or duplication",
  oversize: "refuses a message over maxMessageBytes and enqueues nothing of its batch",
} as const;

export type CaseName = keyof typeof BROKER_CASES;

const CASES: Record<CaseName, BrokerCase> = {
  ...DELIVERY_CASES,
  ...LEASE_CASES,
  ...ORDERING_CASES,
  ...MANAGEMENT_CASES,
};

export function describeBrokerConformance(
  name: string,
  makeHarness: () => Promise<BrokerHarness>,
  options: { skip?: Partial<Record<CaseName, string>>; leaseMs?: number } = {},
): void {
  const leaseMs = options.leaseMs ?? 400;

  describe(`broker conformance: ${name}`, () => {
    let harness: BrokerHarness | undefined;
    let clients: Broker[] = [];

    beforeEach(async () => {
      harness = await makeHarness();
      clients = [];
    });

    afterEach(async () => {
      // Close first (a client may hold files or sockets the cleanup removes), tolerating clients
      // the case already closed or broke on purpose.
      await Promise.allSettled(clients.map((client) => client.close()));
      await harness?.cleanup();
      harness = undefined;
    });

    for (const caseName of Object.keys(BROKER_CASES) as CaseName[]) {
      const title = BROKER_CASES[caseName];
      const reason = options.skip?.[caseName];
      if (reason) {
        console.warn(`[broker conformance] ${name}: skipping "${caseName}": ${reason}`);
        it.skip(`${title} (skipped: ${reason})`, () => {});
        continue;
      }
      it(title, async () => {
        const context: CaseContext = {
          leaseMs,
          queue: "conformance",
          open: async () => {
            if (!harness) throw new Error("the harness was not created (see beforeEach)");
            const client = await harness.open();
            clients.push(client);
            return client;
          },
        };
        await CASES[caseName](context);
      });
    }
  });
}

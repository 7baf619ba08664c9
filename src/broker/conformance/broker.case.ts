import {
  type ConformanceHarness,
  describeConformance,
  type SkipList,
} from "../../../test/support/conformance-suite.js";
import type { Broker } from "../broker.js";
import { BROKER_CASES, type BrokerCase, type BrokerCaseName } from "./case-list.case.js";
import { DELIVERY_CASES } from "./delivery.case.js";
import { LEASE_CASES } from "./lease.case.js";
import { MANAGEMENT_CASES } from "./management.case.js";
import { ORDERING_CASES } from "./ordering.case.js";

// The broker conformance suite: the one specification of the Broker seam that every
// implementation (memory, sqlite, rabbitmq, redis, sqs) runs against a real backend. It uses only
// the seam, never backend internals; the cases and their titles are listed in case-list.case.ts.
// A backend that cannot honour a case lists it in `skip` with its reason:
//
//   describeBrokerConformance("sqs", makeHarness, { skip: { "priority-order": "why" } });
//
// Leases are short (default 400 ms) so the suite stays fast; every wait is bounded.

export type BrokerHarness = ConformanceHarness<Broker>;

const CASES: Record<BrokerCaseName, BrokerCase> = {
  ...DELIVERY_CASES,
  ...LEASE_CASES,
  ...ORDERING_CASES,
  ...MANAGEMENT_CASES,
};

export function describeBrokerConformance(
  name: string,
  makeHarness: () => Promise<BrokerHarness>,
  options: { skip?: SkipList<BrokerCaseName>; leaseMs?: number } = {},
): void {
  const leaseMs = options.leaseMs ?? 400;
  describeConformance(
    {
      seam: "broker",
      titles: BROKER_CASES,
      cases: CASES,
      context: async (open) => ({ open, leaseMs, queue: "conformance" }),
      // Cases close clients themselves (a consumer that dies, the close case): the close after
      // the case is a safety net, and its outcome says nothing about the case.
      closeErrors: "ignore",
    },
    name,
    makeHarness,
    options.skip,
  );
}

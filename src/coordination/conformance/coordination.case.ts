import {
  type ConformanceHarness,
  describeConformance,
  type SkipList,
} from "../../../test/support/conformance-suite.js";
import type { CoordinationStore } from "../coordination-store.js";
import { BATCH_CASES } from "./batch.case.js";
import {
  COORDINATION_CASES,
  type CoordinationCase,
  type CoordinationCaseName,
} from "./case-list.case.js";
import { ENTRY_CASES } from "./entries.case.js";
import { EXPIRY_CASES } from "./expiry.case.js";
import { FAULT_CASES } from "./faults.case.js";
import { FLOW_CASES } from "./flow.case.js";
import { RACE_CASES } from "./races.case.js";

// The coordination conformance suite: what every CoordinationStore guarantees
// (coordination-store.ts), run by each implementation (memory, sqlite, redis, postgres) against
// its real server. It uses the seam only; the cases and their titles are listed in
// case-list.case.ts. A backend that cannot honour a case skips it by name with the reason:
//
//   describeCoordinationConformance("memory", makeHarness, {
//     skip: { "store-away": "no server to lose: the store is this process's memory" },
//   });
//
// TTLs and leases are short (150–400 ms) and every wait is bounded, so a store that never
// expires anything fails with a message instead of hanging.

/**
 * What an implementation's test file provides, made fresh for every case. `open()` clients
 * share one namespace (a deployment prefix unique to this harness) on one server, as separate
 * processes would: separate connections or database handles, never one shared client.
 */
export interface CoordinationHarness extends ConformanceHarness<CoordinationStore> {
  /**
   * A client of the same server under another deployment prefix, chosen by `name` ("p", "p2"):
   * distinct from `open()`'s namespace and from every other name, and removed by `cleanup()`.
   * Runners usually append `name` to the harness's own prefix.
   */
  openNamespace(name: string): Promise<CoordinationStore>;
  /**
   * A client on the harness's namespace whose own clock reads `skewMs` off true time, for
   * implementations that compute anything client-side (inject `now`). Omit it when the client
   * never reads its clock: the store-clock case then runs on plain clients.
   */
  openSkewed?(skewMs: number): Promise<CoordinationStore>;
  /**
   * Makes the store stop answering every client of this harness (a TCP proxy that drops or
   * black-holes connections, a lock held past the operation timeout) until `cleanup()`. Omit
   * it and skip "store-away" with the reason when the store has no server to lose.
   */
  breakConnection?(): Promise<void>;
}

const CASES: Record<CoordinationCaseName, CoordinationCase> = {
  ...ENTRY_CASES,
  ...BATCH_CASES,
  ...EXPIRY_CASES,
  ...RACE_CASES,
  ...FLOW_CASES,
  ...FAULT_CASES,
};

export function describeCoordinationConformance(
  name: string,
  makeHarness: () => Promise<CoordinationHarness>,
  options: {
    skip?: SkipList<CoordinationCaseName>;
    /** The operation timeout the harness opens clients with (ms). Default 1000. */
    operationTimeoutMs?: number;
  } = {},
): void {
  const operationTimeoutMs = options.operationTimeoutMs ?? 1_000;
  // The generic suite hands a context only `open`; the namespace, skewed and fault hooks come
  // from the case's own harness, whose extra clients are closed here before its cleanup.
  let current: CoordinationHarness | undefined;
  let extra: CoordinationStore[] = [];
  const track = async (client: Promise<CoordinationStore>) => {
    const opened = await client;
    extra.push(opened);
    return opened;
  };
  const harnessOf = (): CoordinationHarness => {
    if (!current) throw new Error("the harness was not created (see beforeEach)");
    return current;
  };

  describeConformance(
    {
      seam: "coordination store",
      titles: COORDINATION_CASES,
      cases: CASES,
      context: async (open) => {
        const harness = harnessOf();
        return {
          open,
          openNamespace: (namespace) => track(harness.openNamespace(namespace)),
          openSkewed: (skewMs) => (harness.openSkewed ? track(harness.openSkewed(skewMs)) : open()),
          ...(harness.breakConnection
            ? { breakConnection: () => harness.breakConnection?.() ?? Promise.resolve() }
            : {}),
          operationTimeoutMs,
        };
      },
      // Cases close clients themselves (a dead holder, the closed case): the close after the
      // case is a safety net, and its outcome says nothing about the case.
      closeErrors: "ignore",
    },
    name,
    async () => {
      const harness = await makeHarness();
      current = harness;
      extra = [];
      return {
        open: () => harness.open(),
        cleanup: async () => {
          await Promise.allSettled(extra.map((client) => client.close()));
          extra = [];
          current = undefined;
          await harness.cleanup();
        },
      };
    },
    options.skip,
  );
}

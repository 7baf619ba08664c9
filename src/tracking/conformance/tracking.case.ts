import {
  type ConformanceHarness,
  describeConformance,
  type SkipList,
} from "../../../test/support/conformance-suite.js";
import type { TrackingStore } from "../tracking-store.js";
import { TRACKING_CASES, type TrackingCase, type TrackingCaseName } from "./case-list.case.js";
import { CHANGE_CASES } from "./changes.case.js";
import { MERGE_CASES } from "./merge.case.js";
import { QUERY_CASES } from "./queries.case.js";
import { SIDE_TABLE_CASES } from "./side-tables.case.js";

// The tracking conformance suite: what every TrackingStore guarantees (tracking-store.ts), run
// by each implementation (sqlite, postgres, redis) against its real server. It uses the seam
// only; the cases and their titles are listed in case-list.case.ts. A backend that cannot support
// a case skips it by name with the reason, which then shows in the test report:
//
//   describeTrackingConformance("postgres", makeHarness, { skip: { purge: "why" } });
//
// Every case gets a fresh harness (an empty database: file, schema or key prefix) and a first
// store on it, migrated by the suite, so cases never see each other's records.

export type TrackingHarness = ConformanceHarness<TrackingStore>;

const CASES: Record<TrackingCaseName, TrackingCase> = {
  ...MERGE_CASES,
  ...QUERY_CASES,
  ...SIDE_TABLE_CASES,
  ...CHANGE_CASES,
};

export function describeTrackingConformance(
  name: string,
  makeHarness: () => Promise<TrackingHarness>,
  options: { skip?: SkipList<TrackingCaseName> } = {},
): void {
  describeConformance(
    {
      seam: "tracking store",
      titles: TRACKING_CASES,
      cases: CASES,
      context: async (open) => {
        const store = await open();
        await store.migrate();
        return { store, reopen: open };
      },
      // No case closes a store itself: a store that fails to close is a defect of its own.
      closeErrors: "fail",
    },
    name,
    makeHarness,
    options.skip,
  );
}

import { describe, it } from "vitest";
import type { TrackingStore } from "../tracking-store.js";
import { changeCases } from "./changes.case.js";
import type { CaseContext, CaseFn } from "./fixtures.case.js";
import { mergeCases } from "./merge.case.js";
import { queryCases } from "./queries.case.js";
import { sideTableCases } from "./side-tables.case.js";

// The tracking conformance suite: what every TrackingStore guarantees (tracking-store.ts), run
// by each implementation against its real server. It uses the seam only, so a new backend
// (Redis…) runs it unchanged. A backend that cannot support a case skips it by name with the
// reason, which then shows in the test report:
//
//   describeTrackingConformance("postgres", makeStore, { skip: { "…case name…": "why" } });
//
// Every case gets a fresh, empty database from `makeStore` and migrates it itself, so cases
// never see each other's records.

const CASES = { ...mergeCases, ...queryCases, ...sideTableCases, ...changeCases } satisfies Record<
  string,
  CaseFn
>;

export type CaseName = keyof typeof CASES;

export interface TrackingFixture {
  store: TrackingStore;
  /** Removes the database (file, schema…) and closes what the fixture opened. */
  cleanup(): Promise<void>;
  /**
   * Opens another store on the same database, as a second process would; the suite closes it.
   * Needed by the cases that involve two writers; without it they fail and say so.
   */
  reopen?(): Promise<TrackingStore>;
}

async function runCase(makeStore: () => Promise<TrackingFixture>, fn: CaseFn): Promise<void> {
  const fixture = await makeStore();
  const opened: TrackingStore[] = [];
  const context: CaseContext = {
    store: fixture.store,
    async reopen() {
      if (!fixture.reopen) {
        throw new Error(
          "this case needs a second store on the same database: give the fixture a reopen()",
        );
      }
      const store = await fixture.reopen();
      opened.push(store);
      return store;
    },
  };
  try {
    await fixture.store.migrate();
    await fn(context);
  } finally {
    for (const store of opened) await store.close();
    await fixture.cleanup();
  }
}

export function describeTrackingConformance(
  name: string,
  makeStore: () => Promise<TrackingFixture>,
  options: { skip?: Partial<Record<CaseName, string>> } = {},
): void {
  describe(`TrackingStore conformance: ${name}`, () => {
    for (const [caseName, fn] of Object.entries(CASES) as [CaseName, CaseFn][]) {
      const reason = options.skip?.[caseName];
      if (reason !== undefined) it.skip(`${caseName} (skipped: ${reason})`, () => {});
      else it(caseName, () => runCase(makeStore, fn));
    }
  });
}

import { afterEach, beforeEach, describe, it } from "vitest";

// The one shape of every seam's conformance suite (broker, tracking store, and the seams to come),
// so that a reader who knows one suite knows them all:
//
// - a case list: a stable short name per case (what skip lists use) and the sentence the test
//   report shows, kept in one table that reads as the seam's specification;
// - a case: an async function of what the suite hands it (its context), using the seam only;
// - a harness, made fresh for each case by the implementation's test file: `open()` gives another
//   client on the case's isolated namespace (all clients of one harness see the same data, as
//   separate processes would), `cleanup()` removes what the harness created;
// - a skip list by case name, each with its reason, printed when the suite is declared and shown
//   in the skipped test's title, so a gap is never silent.
//
// Every client a case opens is closed after it, whatever happens, before the harness cleans up.
//
// Each seam lays its suite out the same way, in `src/<seam>/conformance/`: `case-list.case.ts`
// (the names and titles, the context type; it imports no case file), case files exporting
// `{ name: case }` objects that satisfy `Partial<Record<Name, Case>>`, and the entry
// `<seam>.case.ts` exporting `describe<Seam>Conformance(name, makeHarness, { skip, … })`, which
// spreads the case files into one complete record and calls `describeConformance`.

export interface ConformanceHarness<Client> {
  /** Opens another client on this harness's namespace; the suite closes it after the case. */
  open(): Promise<Client>;
  /** Removes everything the harness created; called after every client was closed. */
  cleanup(): Promise<void>;
}

export type ConformanceCase<Context> = (context: Context) => Promise<void>;

export interface ConformanceSuite<Name extends string, Client, Context> {
  /** The seam, as the report names it: "broker", "tracking store". */
  seam: string;
  /** Every case by name, with the title the report shows; the order is the order of the run. */
  titles: Readonly<Record<Name, string>>;
  cases: Readonly<Record<Name, ConformanceCase<Context>>>;
  /** What a case gets, built from `open` (which records each client for closing). */
  context(open: () => Promise<Client>): Promise<Context>;
  /**
   * "ignore" when cases close or break clients on purpose, so a second close may fail without
   * saying anything about the case; "fail" when a failing close is itself a defect.
   */
  closeErrors: "ignore" | "fail";
}

/** Case name → why this implementation cannot honour it. */
export type SkipList<Name extends string> = Partial<Record<Name, string>>;

interface Closable {
  close(): Promise<void>;
}

export function describeConformance<Name extends string, Client extends Closable, Context>(
  suite: ConformanceSuite<Name, Client, Context>,
  implementation: string,
  makeHarness: () => Promise<ConformanceHarness<Client>>,
  skip: SkipList<Name> = {},
): void {
  const label = `${suite.seam} conformance: ${implementation}`;
  announceSkips(label, suite.titles, skip);

  describe(label, () => {
    let harness: ConformanceHarness<Client> | undefined;
    let clients: Client[] = [];

    beforeEach(async () => {
      harness = await makeHarness();
      clients = [];
    });

    afterEach(async () => {
      // Close first: a client may hold files or sockets the cleanup removes.
      const closed = await Promise.allSettled(clients.map((client) => client.close()));
      await harness?.cleanup();
      harness = undefined;
      const failed = closed.find((result) => result.status === "rejected");
      if (failed && suite.closeErrors === "fail") throw failed.reason;
    });

    const open = async (): Promise<Client> => {
      if (!harness) throw new Error("the harness was not created (see beforeEach)");
      const client = await harness.open();
      clients.push(client);
      return client;
    };

    for (const name of Object.keys(suite.titles) as Name[]) {
      const title = suite.titles[name];
      const reason = skip[name];
      if (reason !== undefined) {
        it.skip(`${title} (skipped: ${reason})`, () => {});
        continue;
      }
      it(title, async () => {
        await suite.cases[name](await suite.context(open));
      });
    }
  });
}

/** One notice per reason, naming the cases it covers. */
function announceSkips<Name extends string>(
  label: string,
  titles: Readonly<Record<Name, string>>,
  skip: SkipList<Name>,
): void {
  const byReason = new Map<string, string[]>();
  for (const [name, reason] of Object.entries(skip) as [Name, string | undefined][]) {
    if (reason === undefined) continue;
    if (!(name in titles))
      throw new Error(`${label}: the skip list names an unknown case "${name}"`);
    byReason.set(reason, [...(byReason.get(reason) ?? []), name]);
  }
  for (const [reason, names] of byReason) {
    console.warn(`[${label}] skipping ${names.join(", ")}: ${reason}`);
  }
}

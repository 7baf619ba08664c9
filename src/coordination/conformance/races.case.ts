import { expect } from "vitest";
import type { CoordinationStore } from "../coordination-store.js";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";

// Conformance cases for several clients: two clients (separate connections or handles, as two
// processes would have) race for one thing and exactly one wins, round after round; and two
// deployment prefixes on one server stay apart.

const ROUNDS = 100;
const MINUTE = 60_000;

async function twoClients(open: () => Promise<CoordinationStore>) {
  return [await open(), await open()] as const;
}

export const RACE_CASES = {
  "claim-race": async (context) => {
    const [a, b] = await twoClients(context.open);
    for (let round = 0; round < ROUNDS; round++) {
      const key = `race:${round}`;
      const [ra, rb] = await Promise.all([a.claim(key, "a", MINUTE), b.claim(key, "b", MINUTE)]);
      const winners = [ra, rb].filter((r) => r.claimed).length;
      expect(winners, `round ${round}: winners`).toBe(1);
      const winner = ra.claimed ? "a" : "b";
      const loser = ra.claimed ? rb : ra;
      // The loser sees the winner's value, and so does everyone after.
      expect(loser, `round ${round}`).toMatchObject({ claimed: false, holder: { value: winner } });
      expect((await a.read(key))?.value, `round ${round}`).toBe(winner);
    }
  },

  "replace-race": async (context) => {
    const [a, b] = await twoClients(context.open);
    await a.put("race:state", "v0", MINUTE);
    for (let round = 0; round < ROUNDS; round++) {
      const expected = `v${round}`;
      const [ra, rb] = await Promise.all([
        a.replace("race:state", expected, `${expected}-a`, MINUTE),
        b.replace("race:state", expected, `${expected}-b`, MINUTE),
      ]);
      expect([ra, rb].filter(Boolean).length, `round ${round}: successes`).toBe(1);
      const value = (await b.read("race:state"))?.value;
      expect(value, `round ${round}`).toBe(`${expected}-${ra ? "a" : "b"}`);
      // Moves on to the next expected value, through the winner's own compare-and-replace.
      const winner = ra ? a : b;
      expect(await winner.replace("race:state", value ?? "", `v${round + 1}`, MINUTE)).toBe(true);
    }
  },

  "slot-race": async (context) => {
    const [a, b] = await twoClients(context.open);
    for (let round = 0; round < ROUNDS; round++) {
      const name = `pool:${round}`;
      // One slot of two is taken already; a and b race for the other.
      expect(await a.acquireSlot(name, 2, "first", MINUTE)).toEqual({ acquired: true });
      const [ra, rb] = await Promise.all([
        a.acquireSlot(name, 2, "a", MINUTE),
        b.acquireSlot(name, 2, "b", MINUTE),
      ]);
      expect([ra, rb].filter((r) => r.acquired).length, `round ${round}: holders`).toBe(1);
      expect(ra.acquired ? rb : ra, `round ${round}`).toEqual({ acquired: false, held: 2 });
    }
  },

  namespaces: async (context) => {
    const home = await context.open();
    // "p" is a prefix of "p2": a store that only concatenates prefix and key would make p's
    // "2x" and p2's "x" the same key.
    const p = await context.openNamespace("p");
    const p2 = await context.openNamespace("p2");
    await p.put("2x", "of p", MINUTE);
    await p2.put("x", "of p2", MINUTE);
    await home.put("x", "of home", MINUTE);
    expect((await p.read("2x"))?.value).toBe("of p");
    expect(await p.read("x")).toBeUndefined();
    expect((await p2.read("x"))?.value).toBe("of p2");
    expect(await p2.read("2x")).toBeUndefined();
    expect((await home.read("x"))?.value).toBe("of home");
    expect(await home.read("2x")).toBeUndefined();
    expect(await p.claim("x", "of p", MINUTE)).toEqual({ claimed: true });
    expect((await p.list("", { limit: 10 })).entries.map((e) => e.key)).toEqual(["2x", "x"]);
    expect((await p2.list("", { limit: 10 })).entries.map((e) => e.key)).toEqual(["x"]);
    expect((await home.list("", { limit: 10 })).entries.map((e) => e.key)).toEqual(["x"]);
    expect(await p2.release("2x")).toBe(false);
    expect(await home.release("x", "of p2")).toBe(false);

    // Buckets, slots and counters are namespaced too.
    const rate = { limit: 1, intervalMs: MINUTE };
    expect(await p.takeTokens("bucket", rate)).toMatchObject({ taken: true });
    expect(await p2.takeTokens("bucket", rate)).toMatchObject({ taken: true });
    expect(await p.takeTokens("bucket", rate)).toMatchObject({ taken: false });
    expect(await p.acquireSlot("slot", 1, "a", MINUTE)).toEqual({ acquired: true });
    expect(await p2.acquireSlot("slot", 1, "b", MINUTE)).toEqual({ acquired: true });
    expect(await home.acquireSlot("slot", 1, "c", MINUTE)).toEqual({ acquired: true });
    expect(await p.add("count", 3, MINUTE)).toBe(3);
    expect(await p2.add("count", 1, MINUTE)).toBe(1);
    expect(await home.add("count", 0, MINUTE)).toBe(0);
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;

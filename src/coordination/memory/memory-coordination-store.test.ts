import { describe, expect, it } from "vitest";
import { describeCoordinationConformance } from "../conformance/coordination.case.js";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
  open,
} from "./memory-coordination-store.js";

// The memory store runs the whole conformance suite: it is what tests above the seam rely on, so
// it must behave like the real stores. Clients of one harness share a MemoryCoordinationServer,
// which plays the server several processes connect to; clients have no clock of their own, so
// the store-clock case runs on plain clients.

describeCoordinationConformance(
  "memory",
  async () => {
    const server = new MemoryCoordinationServer();
    return {
      open: async () => createMemoryCoordinationStore({ server, prefix: "conformance" }),
      openNamespace: async (name) =>
        createMemoryCoordinationStore({ server, prefix: `conformance${name}` }),
      cleanup: async () => server.clear(),
    };
  },
  { skip: { "store-away": "no server to lose: the store is this process's memory" } },
);

describe("memory coordination store specifics", () => {
  it("measures every TTL by the server's injectable clock, not by timers", async () => {
    let now = 1_000_000;
    const server = new MemoryCoordinationServer({ now: () => now });
    const store = createMemoryCoordinationStore({ server });
    await store.claim("k", "v", 10_000);
    await store.acquireSlot("s", 1, "a", 10_000);
    now += 9_999;
    expect(await store.read("k")).toEqual({ value: "v", ttlMs: 1 });
    expect(await store.acquireSlot("s", 1, "b", 10_000)).toEqual({ acquired: false, held: 1 });
    now += 1;
    expect(await store.read("k")).toBeUndefined();
    expect(await store.acquireSlot("s", 1, "b", 10_000)).toEqual({ acquired: true });
    // Days later the sweep has dropped what nobody touched; nothing comes back.
    now += 3 * 86_400_000;
    expect(await store.list("", { limit: 10 })).toEqual({ entries: [] });
    await store.close();
  });

  it("refills a bucket exactly: one token per intervalMs / limit, never fractional", async () => {
    let now = 0;
    const store = createMemoryCoordinationStore({
      server: new MemoryCoordinationServer({ now: () => now }),
    });
    const rate = { limit: 3, intervalMs: 1_000 };
    expect(await store.takeTokens("b", rate, 3)).toEqual({ taken: true, remaining: 0 });
    now += 333;
    expect(await store.takeTokens("b", rate)).toEqual({ taken: false, retryAfterMs: 1 });
    now += 1;
    expect(await store.takeTokens("b", rate)).toEqual({ taken: true, remaining: 0 });
    await store.close();
  });

  it("memory:// opens a private store under the given prefix", async () => {
    const a = open("memory://", { prefix: "one" });
    const b = open("memory://", { prefix: "one" });
    await a.put("k", "v", 60_000);
    expect(await b.read("k")).toBeUndefined();
    expect(a.kind).toBe("memory");
    await Promise.all([a.close(), b.close()]);
  });
});

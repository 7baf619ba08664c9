import { expect } from "vitest";
import type { CoordinationStore } from "../coordination-store.js";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";
import { expectRejects } from "./waits.case.js";

// Conformance cases for what goes wrong: arguments a caller must fix, a closed client, and a
// store that goes away. None of them may hang: every call settles within the operation timeout.

const MINUTE = 60_000;
const RATE = { limit: 2, intervalMs: MINUTE };

/** One valid call of every operation, by name, for the closed and fault cases. */
function everyOperation(store: CoordinationStore): [string, () => Promise<unknown>][] {
  return [
    ["ping", () => store.ping()],
    ["claim", () => store.claim("k", "v2", MINUTE)],
    [
      "claimMany",
      () =>
        store.claimMany([
          { key: "k", value: "v2", ttlMs: MINUTE },
          { key: "k2", value: "v2", ttlMs: MINUTE },
        ]),
    ],
    ["put", () => store.put("k", "v2", MINUTE)],
    ["replace", () => store.replace("k", "v", "v2", MINUTE)],
    ["release", () => store.release("k")],
    ["takeTokens", () => store.takeTokens("bucket", RATE)],
    ["acquireSlot", () => store.acquireSlot("slot", 1, "h", MINUTE)],
    ["renewSlot", () => store.renewSlot("slot", "h", MINUTE)],
    ["releaseSlot", () => store.releaseSlot("slot", "h")],
    ["add", () => store.add("count", 1, MINUTE)],
  ];
}

/** The reading operations: a store may still serve them from what it has (SQLite's WAL). */
function everyRead(store: CoordinationStore): [string, () => Promise<unknown>][] {
  return [
    ["read", () => store.read("k")],
    ["list", () => store.list("", { limit: 10 })],
  ];
}

/** Settles `call` or fails the case after `boundMs`: a hang is the defect under test. */
async function settleWithin(
  what: string,
  call: () => Promise<unknown>,
  boundMs: number,
): Promise<{ ok: true } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} did not settle within ${boundMs} ms`)),
      boundMs,
    );
  });
  try {
    await Promise.race([call(), hang]);
    return { ok: true };
  } catch (error) {
    if (error instanceof Error && error.message.endsWith(`within ${boundMs} ms`)) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

export const FAULT_CASES = {
  "invalid-arguments": async (context) => {
    const store = await context.open();
    const bad: [string, () => Promise<unknown>][] = [
      ["claim with an empty key", () => store.claim("", "v", MINUTE)],
      ["put with an empty key", () => store.put("", "v", MINUTE)],
      ["read with an empty key", () => store.read("")],
      ["replace with an empty key", () => store.replace("", "v", "w", MINUTE)],
      ["release with an empty key", () => store.release("", "v")],
      ["claim with a TTL of 0", () => store.claim("k", "v", 0)],
      ["put with a negative TTL", () => store.put("k", "v", -5)],
      ["put with a fractional TTL", () => store.put("k", "v", 1.5)],
      ["claim with a NaN TTL", () => store.claim("k", "v", Number.NaN)],
      ["replace with a TTL of 0", () => store.replace("k", "v", "w", 0)],
      ["list with limit 0", () => store.list("", { limit: 0 })],
      ["list with limit 1001", () => store.list("", { limit: 1001 })],
      ["list with a fractional limit", () => store.list("", { limit: 2.5 })],
      ["takeTokens with an empty name", () => store.takeTokens("", RATE)],
      ["takeTokens with limit 0", () => store.takeTokens("b", { limit: 0, intervalMs: MINUTE })],
      ["takeTokens with intervalMs 0", () => store.takeTokens("b", { limit: 2, intervalMs: 0 })],
      ["takeTokens with count 0", () => store.takeTokens("b", RATE, 0)],
      ["takeTokens with a fractional count", () => store.takeTokens("b", RATE, 1.5)],
      ["takeTokens with count over the limit", () => store.takeTokens("b", RATE, 3)],
      ["acquireSlot with an empty name", () => store.acquireSlot("", 1, "h", MINUTE)],
      ["acquireSlot with limit 0", () => store.acquireSlot("s", 0, "h", MINUTE)],
      ["acquireSlot with an empty holder", () => store.acquireSlot("s", 1, "", MINUTE)],
      ["acquireSlot with leaseMs 0", () => store.acquireSlot("s", 1, "h", 0)],
      ["renewSlot with leaseMs 0", () => store.renewSlot("s", "h", 0)],
      ["renewSlot with an empty holder", () => store.renewSlot("s", "", MINUTE)],
      ["releaseSlot with an empty name", () => store.releaseSlot("", "h")],
      ["add with an empty name", () => store.add("", 1, MINUTE)],
      ["add with a TTL of 0", () => store.add("n", 1, 0)],
      ["add with a fractional delta", () => store.add("n", 1.5, MINUTE)],
      ["add with a NaN delta", () => store.add("n", Number.NaN, MINUTE)],
    ];
    for (const [what, call] of bad) await expectRejects(what, call, "invalid_argument");

    // Nothing of the refused calls was applied.
    expect(await store.read("k")).toBeUndefined();
    expect(await store.list("", { limit: 10 })).toEqual({ entries: [] });
    expect(await store.takeTokens("b", RATE, 2)).toEqual({ taken: true, remaining: 0 });
    expect(await store.acquireSlot("s", 1, "h", MINUTE)).toEqual({ acquired: true });
    expect(await store.add("n", 1, MINUTE)).toBe(1);
  },

  closed: async (context) => {
    const closing = await context.open();
    const other = await context.open();
    await closing.put("k", "v", MINUTE);
    await closing.close();
    await closing.close();
    const replaceMany: [string, () => Promise<unknown>] = [
      "replaceMany",
      () => closing.replaceMany([{ key: "k", expected: "v", value: "v2", ttlMs: MINUTE }]),
    ];
    for (const [what, call] of [...everyOperation(closing), replaceMany, ...everyRead(closing)]) {
      await expectRejects(`${what} on a closed client`, call, "unavailable");
    }
    // Closing one client closes nothing else.
    await other.ping();
    expect((await other.read("k"))?.value).toBe("v");
  },

  "store-away": async (context) => {
    const breakConnection = context.breakConnection;
    if (!breakConnection) {
      expect.fail(
        "the harness has no breakConnection(): provide one or skip store-away with a reason",
      );
    }
    const store = await context.open();
    await store.put("k", "v", MINUTE);
    await store.ping();
    const boundMs = context.operationTimeoutMs + 1_500;

    // Calls in flight when the store goes away settle: answered, or unavailable.
    const inFlight = Array.from({ length: 5 }, (_, i) =>
      settleWithin(
        `call ${i} in flight`,
        () => store.claim(`flight:${i}`, "v", MINUTE),
        boundMs * 2,
      ),
    );
    await breakConnection();
    for (const outcome of await Promise.all(inFlight)) {
      if (!outcome.ok) expect(outcome.error).toMatchObject({ code: "unavailable" });
    }

    // Every later call that changes something, and ping, rejects with unavailable in bounded time.
    for (const [what, call] of everyOperation(store)) {
      const outcome = await settleWithin(what, call, boundMs);
      expect(outcome.ok, `${what} resolved with the store away`).toBe(false);
      if (!outcome.ok) expect(outcome.error, what).toMatchObject({ code: "unavailable" });
    }
    for (const [what, call] of everyRead(store)) {
      const outcome = await settleWithin(what, call, boundMs);
      if (!outcome.ok) expect(outcome.error, what).toMatchObject({ code: "unavailable" });
    }
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;

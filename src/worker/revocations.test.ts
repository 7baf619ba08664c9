import { describe, expect, it } from "vitest";
import type { TaskEnvelope } from "../core/envelope.js";
import { Revocations, revocationApplies } from "./revocations.js";

function envelope(id: string, run = 0, requeuedAt?: number): TaskEnvelope {
  return {
    v: 1,
    id,
    function_key: "f",
    payload: {},
    queue: "default",
    priority: 5,
    attempt: 0,
    run,
    created_at: new Date(0).toISOString(),
    metadata: {},
    ...(requeuedAt !== undefined ? { requeued_at: new Date(requeuedAt).toISOString() } : {}),
  };
}

describe("Revocations", () => {
  it("forgets a revocation after its time to live", () => {
    let now = 1_000;
    const revoked = new Revocations({ ttlMs: 100, now: () => now });
    revoked.add("a", 1_000);
    revoked.add("stale", 800); // already older than the TTL on arrival (a replay)
    expect(revoked.applies(envelope("a"))).toBe(true);
    expect(revoked.applies(envelope("stale"))).toBe(false);
    now = 1_100;
    expect(revoked.applies(envelope("a"))).toBe(false);
    expect(revoked.size).toBe(0);
  });

  it("keeps at most maxEntries, forgetting the oldest first", () => {
    const revoked = new Revocations({ maxEntries: 2 });
    const at = Date.now();
    revoked.add("a", at);
    revoked.add("b", at);
    revoked.add("c", at);
    expect(revoked.size).toBe(2);
    expect(["a", "b", "c"].map((id) => revoked.applies(envelope(id)))).toEqual([false, true, true]);
  });

  it("applies to run 0 whatever the clocks say, and to a requeued run only when issued after it", () => {
    expect(revocationApplies(0, envelope("a"))).toBe(true);
    expect(revocationApplies(1_000, envelope("a", 1, 2_000))).toBe(false);
    expect(revocationApplies(2_000, envelope("a", 1, 2_000))).toBe(true);
  });
});

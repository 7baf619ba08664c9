import { describe, expect, it } from "vitest";
import type { PresenceCommand } from "../broker/broker.js";
import { HandBack } from "./hand-back.js";
import { Peers } from "./peers.js";

// The bookkeeping behind "hand it back or dead-letter it": which live peers run what, and how
// long a hand-back waits.

function beat(workerId: string, extra: Partial<PresenceCommand> = {}): PresenceCommand {
  return {
    type: "presence",
    workerId,
    queues: ["default"],
    functions: ["email.send"],
    ttlMs: 300,
    at: 0,
    ...extra,
  };
}

describe("Peers", () => {
  it("knows a peer that consumes the queue and registers the key, until its ttl runs out", () => {
    let now = 1_000;
    const peers = new Peers("me", () => now);
    peers.heard(beat("other", { queues: ["default", "mail"] }));
    expect(peers.runnerOf("mail", "email.send")).toBe("other");
    expect(peers.runnerOf("default", "email.send")).toBe("other");
    expect(peers.runnerOf("default", "sms.send")).toBeUndefined();
    expect(peers.runnerOf("reports", "email.send")).toBeUndefined();
    now += 299;
    expect(peers.size).toBe(1);
    now += 1;
    expect(peers.runnerOf("default", "email.send")).toBeUndefined();
    expect(peers.size).toBe(0);
  });

  it("counts the ttl from receipt on its own clock, whatever the sender's clock says", () => {
    let now = 1_000;
    const peers = new Peers("me", () => now);
    peers.heard(beat("skewed", { at: now - 3_600_000 }));
    now += 200;
    expect(peers.runnerOf("default", "email.send")).toBe("skewed");
  });

  it("takes each peer's latest beat, ignores its own, and forgets a peer that says it left", () => {
    const peers = new Peers("me", () => 0);
    peers.heard(beat("me"));
    expect(peers.size).toBe(0);
    peers.heard(beat("other"));
    peers.heard(beat("other", { functions: ["sms.send"] }));
    expect(peers.runnerOf("default", "email.send")).toBeUndefined();
    expect(peers.runnerOf("default", "sms.send")).toBe("other");
    peers.heard(beat("other", { ttlMs: 0 }));
    expect(peers.size).toBe(0);
  });
});

describe("HandBack", () => {
  function handBack(now: () => number, startedAt = 0, random = () => 0) {
    const peers = new Peers("me", now);
    const hb = new HandBack({
      peers,
      startedAt: () => startedAt,
      youngMs: 200,
      baseDelayMs: 1_000,
      concurrency: 4,
      now,
      random,
    });
    return { peers, hb };
  }

  it("hands back what a live peer runs, and anything while the worker is young", () => {
    let now = 10_000;
    const { peers, hb } = handBack(() => now, 10_000);
    expect(hb.reason("default", "nobody.knows")).toMatch(/started too recently/);
    now += 200;
    expect(hb.reason("default", "nobody.knows")).toBeUndefined();
    peers.heard(beat("other"));
    expect(hb.reason("default", "email.send")).toBe("worker other runs it");
    expect(hb.reason("mail", "email.send")).toBeUndefined();
  });

  it("waits one to two base delays, longer when it hands back many tasks per slot", () => {
    let now = 0;
    let r = 0;
    const { hb } = handBack(
      () => now,
      0,
      () => r,
    );
    expect(hb.delayMs()).toBe(1_250); // 1 hand-back in this second over 4 slots
    r = 0.999;
    expect(hb.delayMs()).toBeLessThan(2 * 1_500);
    r = 0;
    for (let i = 0; i < 100; i++) hb.delayMs();
    expect(hb.delayMs()).toBe(1_000 * (1 + 103 / 4));
    // The pace of the last second carries into the next one, then fades.
    now += 1_000;
    expect(hb.delayMs()).toBe(1_000 * (1 + 103 / 4));
    now += 5_000;
    expect(hb.delayMs()).toBe(1_250);
    for (let i = 0; i < 1_000; i++) hb.delayMs();
    expect(hb.delayMs()).toBe(30_000); // capped
  });
});

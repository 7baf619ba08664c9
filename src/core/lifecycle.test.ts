import { describe, expect, it } from "vitest";
import { type Part, ServiceSequence } from "./lifecycle.js";

function recorder() {
  const log: string[] = [];
  const part = (name: string, fail?: "start" | "stop"): Part => ({
    name,
    async start() {
      log.push(`start ${name}`);
      if (fail === "start") throw new Error(`${name} cannot start`);
    },
    async stop() {
      log.push(`stop ${name}`);
      if (fail === "stop") throw new Error(`${name} cannot stop`);
    },
  });
  return { log, part };
}

describe("ServiceSequence", () => {
  it("starts parts in order and stops them in reverse, once however often stop is called", async () => {
    const { log, part } = recorder();
    const sequence = new ServiceSequence([part("a"), part("b"), part("c")], () => {});
    await sequence.start();
    await Promise.all([sequence.stop(), sequence.stop()]);
    await sequence.stop();
    expect(log).toEqual(["start a", "start b", "start c", "stop c", "stop b", "stop a"]);
  });

  it("stops what started, in reverse, when a part fails to start, and rethrows", async () => {
    const { log, part } = recorder();
    const sequence = new ServiceSequence([part("a"), part("b", "start"), part("c")], () => {});
    await expect(sequence.start()).rejects.toThrow("b cannot start");
    expect(log).toEqual(["start a", "start b", "stop b", "stop a"]);
  });

  it("stops every part when one fails to stop, reports it, and rejects with its error", async () => {
    const { log, part } = recorder();
    const failures: string[] = [];
    const sequence = new ServiceSequence([part("a"), part("b", "stop"), part("c")], (name) =>
      failures.push(name),
    );
    await sequence.start();
    await expect(sequence.stop()).rejects.toThrow("b cannot stop");
    expect(log.slice(3)).toEqual(["stop c", "stop b", "stop a"]);
    expect(failures).toEqual(["b"]);
  });
});

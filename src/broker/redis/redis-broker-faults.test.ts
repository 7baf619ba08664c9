import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import type { Delivery } from "../broker.js";
import { message, pollUntil } from "../conformance/inbox.case.js";
import { openRedisBroker } from "./redis-broker.js";
import { deleteKeys, uniquePrefix } from "./test-namespace.fixture.js";

// At-least-once across a crash: a consumer process killed with SIGKILL while it holds tasks
// (extending their leases, as a running worker does) loses nothing; another consumer gets every
// one of them once their leases expire, and nothing else is delivered twice.

const available = await serviceAvailable("redis");
const FIXTURE = fileURLToPath(new URL("./consumer-process.fixture.ts", import.meta.url));

describe.skipIf(!available)("redis broker: kill -9 of a consumer with tasks in flight", () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  it("redelivers every task the killed process held within the lease, and loses none", async () => {
    const prefix = uniquePrefix();
    cleanups.push(() => deleteKeys(SERVICES.redis.url, prefix));
    const url = SERVICES.redis.url;
    const queue = "crash";
    const leaseMs = 1_000;
    const broker = openRedisBroker({ url, prefix, warn: () => {} });
    cleanups.push(() => broker.close());
    const ids = Array.from({ length: 100 }, (_, i) => `k${i}`);
    await broker.publish(
      queue,
      ids.map((id) => message(id)),
    );

    const held = new Map<string, number>();
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", FIXTURE, url, prefix, queue, "50", String(leaseMs)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((resolve) => child.once("exit", resolve));
    cleanups.push(async () => {
      child.kill("SIGKILL");
      await exited;
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        const [event, id, count] = line.split(" ");
        if (event === "holding" && id) held.set(id, Number(count));
      }
    });
    await pollUntil(() => held.size === 50, { timeoutMs: 20_000, what: "the child holding 50" });

    // A second consumer takes the rest; the child's 50 stay with it while it extends them.
    const executions = new Map<string, Delivery[]>();
    await broker.consume([queue], { prefetch: 100, leaseMs }, (delivery) => {
      executions.set(delivery.id, [...(executions.get(delivery.id) ?? []), delivery]);
      void delivery.ack();
    });
    await pollUntil(() => executions.size === 50, { timeoutMs: 10_000, what: "the other 50" });
    await new Promise((resolve) => setTimeout(resolve, leaseMs * 2));
    expect([...executions.keys()].filter((id) => held.has(id))).toEqual([]);

    child.kill("SIGKILL");
    await exited;
    const killedAt = Date.now();
    await pollUntil(() => executions.size === 100, {
      timeoutMs: 20_000,
      what: "the killed child's 50 tasks redelivered",
    });
    const redeliveryMs = Date.now() - killedAt;
    const redelivered = [...held.keys()].map((id) => executions.get(id)?.[0]);
    const counts = {
      submitted: ids.length,
      accepted: ids.length,
      executed: executions.size,
      lost: ids.filter((id) => !executions.has(id)).length,
      duplicated: [...executions.values()].filter((d) => d.length > 1).length,
      redelivered: redelivered.filter((d) => d?.deliveryCount === 2).length,
      redeliveryMs,
    };
    console.log("redis kill -9 counts", counts);
    expect(counts).toMatchObject({ lost: 0, duplicated: 0, executed: 100, redelivered: 50 });
    // Redelivery comes after the lease and one reclaim pass (lease/4); the bound is loose
    // because the machine is shared.
    expect(redeliveryMs).toBeLessThan(leaseMs * 10);
    await pollUntil(
      async () => {
        const s = await broker.stats(queue);
        return s.ready + s.inFlight === 0;
      },
      { timeoutMs: 5_000, what: "an empty queue" },
    );
  });
});

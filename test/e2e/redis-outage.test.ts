import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { Delivery } from "../../src/broker/broker.js";
import { message, pollUntil } from "../../src/broker/conformance/inbox.case.js";
import { openRedisBroker } from "../../src/broker/redis/redis-broker.js";
import { startDevServer } from "../support/dev-server.js";
import { type PrivateRedis, startPrivateRedis } from "../support/redis-server.js";

// Redis restarted mid-run, with AOF and fsync on every write: publishers and the API fail fast
// while it is down (errors, 503s) instead of queueing in memory; consumers — an in-process one
// counting every execution, and the worker inside a real `gotaskq dev` — reconnect by themselves
// and resume; and no accepted message is lost. Uses a private redis-server on its own port.

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedisServer)
  console.warn("\n!!! SKIPPING the Redis restart test: redis-server is not installed.\n");

describe.skipIf(!hasRedisServer)("redis broker: Redis restarted mid-run (AOF on)", () => {
  let redis: PrivateRedis | undefined;
  const closers: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await redis?.cleanup();
  });

  it("loses no accepted task, answers 503 while Redis is down, and resumes without restarts", async () => {
    redis = await startPrivateRedis();
    const server = redis;
    const brokerUrl = `${server.url}/0?prefix=outage`;
    const dev = await startDevServer({ GOTASKQ_BROKER_URL: brokerUrl, GOTASKQ_LEASE_MS: "2000" });
    closers.push(() => dev.box.cleanup());
    const publisher = openRedisBroker({ url: server.url, prefix: "outage", warn: () => {} });
    const consumer = openRedisBroker({ url: server.url, prefix: "outage", warn: () => {} });
    closers.push(
      () => publisher.close(),
      () => consumer.close(),
    );

    const executions = new Map<string, number>();
    await consumer.consume(["faults"], { prefetch: 50, leaseMs: 2_000 }, (d: Delivery) => {
      executions.set(d.id, (executions.get(d.id) ?? 0) + 1);
      d.ack().catch(() => {}); // an ack lost in the outage comes back as a redelivery
    });

    const accepted: string[] = [];
    const restAccepted: string[] = [];
    let submitted = 0;
    let publishErrors = 0;
    let rest503 = 0;
    let running = true;
    const produce = (async () => {
      for (let batch = 0; running; batch++) {
        const ids = Array.from({ length: 20 }, (_, i) => `m${batch}-${i}`);
        submitted += ids.length;
        try {
          await publisher.publish(
            "faults",
            ids.map((id) => message(id)),
          );
          accepted.push(...ids);
        } catch (error) {
          expect(error).toMatchObject({ code: "unavailable" });
          publishErrors++;
        }
        const response = await dev.api("/v1/tasks", {
          body: { function_key: "demo.echo", payload: { batch } },
        });
        if (response.status === 202) restAccepted.push((response.json as { id: string }).id);
        else if (response.status === 503) rest503++;
        else throw new Error(`unexpected ${response.status}: ${JSON.stringify(response.json)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    await pollUntil(() => accepted.length >= 400, { timeoutMs: 20_000, what: "traffic before" });
    await server.stop();
    await pollUntil(() => publishErrors > 3 && rest503 > 3, {
      timeoutMs: 20_000,
      what: "publish errors and 503s while Redis is down",
    });
    // Long enough for every consumer's fetch loop to fail and back off a few times.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await server.start();
    const acceptedBefore = accepted.length;
    await pollUntil(() => accepted.length >= acceptedBefore + 400, {
      timeoutMs: 30_000,
      what: "publishing to resume",
    });
    running = false;
    await produce;

    await pollUntil(() => accepted.every((id) => executions.has(id)), {
      timeoutMs: 30_000,
      what: "every accepted message executed",
    });
    const counts = {
      submitted,
      accepted: accepted.length,
      executed: accepted.filter((id) => executions.has(id)).length,
      lost: accepted.filter((id) => !executions.has(id)).length,
      duplicated: [...executions.values()].filter((n) => n > 1).length,
      publishErrors,
      rest503,
      restAccepted: restAccepted.length,
    };
    console.log("redis restart counts", counts);
    expect(counts.lost).toBe(0);

    // The dev server's worker was never restarted: it finishes every task the API accepted.
    await pollUntil(
      async () => {
        for (const id of restAccepted) {
          const task = await dev.api(`/v1/tasks/${id}`);
          if ((task.json as { status?: string }).status !== "SUCCESS") return false;
        }
        return true;
      },
      { timeoutMs: 30_000, what: "every task accepted by the API to succeed", intervalMs: 200 },
    );
    const ready = await dev.api("/readyz", { key: null });
    expect(ready.status).toBe(200);
  });
});

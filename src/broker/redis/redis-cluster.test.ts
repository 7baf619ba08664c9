import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PrivateCluster, startPrivateCluster } from "../../../test/support/redis-cluster.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { Inbox, message } from "../conformance/inbox.case.js";
import { openRedisBroker, redisBrokerOptionsFromUrl } from "./redis-broker.js";
import { uniquePrefix } from "./test-namespace.fixture.js";

// The Redis Streams broker on a real three-primary Redis Cluster (private redis-server processes
// on free ports): the whole conformance suite, and queues whose slots live on different nodes
// consumed by one subscription. Each queue's keys share its hash tag, so every script runs on one
// node. Skipped with a notice when redis-server is not installed.

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
if (!hasRedisServer)
  console.warn("\n!!! SKIPPING the Redis Cluster suite: redis-server is not installed.\n");

describe.skipIf(!hasRedisServer)("redis broker on a Redis Cluster", () => {
  let cluster: PrivateCluster | undefined;
  beforeAll(async () => {
    cluster = await startPrivateCluster();
  }, 60_000);
  afterAll(async () => {
    await cluster?.cleanup();
  });
  const url = () => {
    if (!cluster) throw new Error("the cluster did not start");
    return cluster.url;
  };

  // The cluster is private and removed afterwards, so the keys need no cleanup of their own.
  describeBrokerConformance("redis cluster", async () => {
    const prefix = uniquePrefix();
    return {
      open: async () => openRedisBroker({ url: url(), prefix, cluster: true, warn: () => {} }),
      cleanup: async () => {},
    };
  });

  it("opens a Cluster from the URL and consumes queues that live on different nodes", async () => {
    const options = redisBrokerOptionsFromUrl(`${url()}?cluster=true&prefix=${uniquePrefix()}`);
    expect(options.cluster).toBe(true);
    const broker = openRedisBroker({ ...options, warn: () => {} });
    try {
      // Ten queues spread their hash tags over the three primaries' slots.
      const queues = Array.from({ length: 10 }, (_, i) => `spread-${i}`);
      for (const queue of queues) await broker.publish(queue, [message(`${queue}-m`)]);
      const inbox = new Inbox();
      await broker.consume(queues, { prefetch: 20, leaseMs: 5_000 }, inbox.push);
      const got = [];
      for (const _ of queues) got.push(await inbox.next(10_000, "a message of each queue"));
      expect(got.map((d) => d.id).sort()).toEqual(queues.map((q) => `${q}-m`).sort());
      await Promise.all(got.map((d) => d.ack()));
      // A message published later to any of them wakes the subscription.
      await broker.publish("spread-7", [message("late")]);
      expect((await inbox.next(10_000, "the late message")).id).toBe("late");
    } finally {
      await broker.close();
    }
  });
});

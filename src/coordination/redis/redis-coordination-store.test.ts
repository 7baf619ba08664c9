import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix } from "../../../test/support/redis-keys.js";
import { startPrivateRedis } from "../../../test/support/redis-server.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { startLossyProxy } from "../../broker/redis/lossy-proxy.fixture.js";
import { describeCoordinationConformance } from "../conformance/coordination.case.js";
import type { CoordinationStore } from "../coordination-store.js";
import { CoordinationKeys } from "./keys.js";
import { open } from "./redis-coordination-store.js";
import { startStallingProxy } from "./stalling-proxy.fixture.js";

// The Redis coordination store on the shared conformance suite against the Redis on
// 127.0.0.1:6379, each harness under a deployment prefix of its own (its keys deleted
// afterwards), its clients connected through a proxy that can make Redis stop answering; plus
// what is specific to Redis: the key layout, the index behind `list`, the URL, and outages.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;
const run = testPrefix("coord");
const OPERATION_TIMEOUT_MS = 1_000;
let harnesses = 0;

/** Every key of a deployment prefix and of the namespaces derived from it. */
async function deleteDeployment(prefix: string): Promise<void> {
  await deleteKeys(url, CoordinationKeys.pattern(prefix));
  await deleteKeys(url, `{${prefix}-ns-*}:coord:*`);
}

describe.skipIf(!available)("Redis coordination store", () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(url);
  });
  afterAll(async () => {
    // Each harness and test removed its keys; a leftover means a cleanup is missing.
    const left = await raw.keys(`{${run}*`);
    raw.disconnect();
    expect(left).toEqual([]);
  });

  describeCoordinationConformance(
    "redis",
    async () => {
      harnesses += 1;
      const prefix = `${run}-${harnesses}`;
      const target = new URL(url);
      const proxy = await startStallingProxy({
        host: target.hostname,
        port: Number(target.port || 6379),
      });
      const through = (deployment: string) =>
        open(proxy.url, { prefix: deployment, operationTimeoutMs: OPERATION_TIMEOUT_MS });
      return {
        open: async () => through(prefix),
        openNamespace: async (name) => through(`${prefix}-ns-${name}`),
        // No openSkewed: the client never reads its own clock (every TTL is PX/PEXPIRE or TIME).
        breakConnection: async () => proxy.stall(),
        async cleanup() {
          await proxy.close();
          await deleteDeployment(prefix);
        },
      };
    },
    { operationTimeoutMs: OPERATION_TIMEOUT_MS },
  );

  describe("redis specifics", () => {
    const prefix = `${run}-specifics`;
    let store: CoordinationStore;
    beforeAll(() => {
      store = open(url, { prefix, operationTimeoutMs: OPERATION_TIMEOUT_MS });
    });
    afterAll(async () => {
      await store.close();
      await deleteDeployment(prefix);
    });

    it("keeps every key under the deployment's hash tag, each with a TTL", async () => {
      await store.put("rec:a", "v", 60_000);
      await store.claim("idem:a", "v", 60_000);
      await store.takeTokens("bucket", { limit: 2, intervalMs: 60_000 });
      await store.acquireSlot("sem", 1, "h", 60_000);
      await store.add("count", 1, 60_000);
      const keys = (await raw.keys(`{${prefix}}*`)).sort();
      const base = `{${prefix}}:coord:`;
      expect(keys).toEqual(
        ["b:bucket", "e:idem:a", "e:rec:a", "ix:exp", "ix:lex", "n:count", "s:sem"].map(
          (k) => base + k,
        ),
      );
      // Redis Cluster hashes only the text inside the first {…}: one slot per deployment.
      for (const key of keys) expect(/\{([^}]*)\}/.exec(key)?.[1]).toBe(prefix);
      for (const key of keys) {
        const ttl = await raw.pttl(key);
        expect(ttl, key).toBeGreaterThan(50_000);
        expect(ttl, key).toBeLessThanOrEqual(61_000);
      }
    });

    it("lists past index members whose entry vanished, and drops them from the index", async () => {
      await store.put("gone:a", "a", 60_000);
      await store.put("gone:b", "b", 60_000);
      await store.put("gone:c", "c", 60_000);
      // Deleted behind the index's back (as an eviction would).
      await raw.del(`{${prefix}}:coord:e:gone:a`, `{${prefix}}:coord:e:gone:b`);
      const page = await store.list("gone:", { limit: 1 });
      expect(page.entries.map((e) => e.key)).toEqual(["gone:c"]);
      expect(page.nextAfter).toBeUndefined();
      expect(await raw.zrangebylex(`{${prefix}}:coord:ix:lex`, "[gone:", "(gone;")).toEqual([
        "gone:c",
      ]);
    });

    it("prunes expired entries from the index on later writes", async () => {
      for (let i = 0; i < 10; i++) await store.put(`short:${i}`, "v", 50);
      await new Promise((resolve) => setTimeout(resolve, 120));
      await store.put("later", "v", 60_000);
      const members = await raw.zrange(`{${prefix}}:coord:ix:exp`, 0, -1);
      expect(members.filter((m) => m.startsWith("short:"))).toEqual([]);
    });

    it("ends a page of large values early, so one reply stays bounded, and pages on", async () => {
      const big = "x".repeat(store.limits.maxValueBytes);
      for (let i = 0; i < 10; i++) await store.put(`big:${i}`, big, 60_000);
      const first = await store.list("big:", { limit: 100 });
      // 8 MiB of values per page.
      expect(first.entries.length).toBe(8);
      expect(first.nextAfter).toBe("big:7");
      const second = await store.list("big:", { limit: 100, after: first.nextAfter });
      expect(second.entries.map((e) => e.key)).toEqual(["big:8", "big:9"]);
      expect(second.nextAfter).toBeUndefined();
    });

    it("indexes what a batch writes, keeps the index past its latest entry, and prunes", async () => {
      for (let i = 0; i < 10; i++) await store.put(`bshort:${i}`, "v", 50);
      await new Promise((resolve) => setTimeout(resolve, 120));
      expect(
        await store.claimMany([
          { key: "batch:a", value: "a", ttlMs: 120_000 },
          { key: "batch:b", value: "b", ttlMs: 60_000 },
        ]),
      ).toEqual([{ claimed: true }, { claimed: true }]);
      expect(
        await store.replaceMany([{ key: "batch:b", expected: "b", value: "b2", ttlMs: 90_000 }]),
      ).toEqual([true]);
      const exp = `{${prefix}}:coord:ix:exp`;
      const members = await raw.zrange(exp, 0, -1);
      expect(members.filter((m) => m.startsWith("bshort:"))).toEqual([]);
      expect(members).toEqual(expect.arrayContaining(["batch:a", "batch:b"]));
      // Scores are the entries' expiries: b's replacement (90 s) restarted its TTL.
      const a = Number(await raw.zscore(exp, "batch:a"));
      const b = Number(await raw.zscore(exp, "batch:b"));
      expect(a - b).toBeGreaterThan(25_000);
      expect(a - b).toBeLessThanOrEqual(30_000);
      for (const index of [exp, `{${prefix}}:coord:ix:lex`]) {
        expect(await raw.pttl(index), index).toBeGreaterThan(119_000);
      }
      expect((await store.list("batch:", { limit: 10 })).entries.map((e) => e.value)).toEqual([
        "a",
        "b2",
      ]);
    });

    it("orders keys by their UTF-8 bytes and keeps a prefix's range exact", async () => {
      const keys = ["u:z", "u:é", "u:😀", "u:\uffff", "u", "u;", "u:"];
      for (const key of keys) await store.put(key, key, 60_000);
      const listed = (await store.list("u:", { limit: 100 })).entries.map((e) => e.key);
      const byBytes = keys
        .filter((k) => k.startsWith("u:"))
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      expect(listed).toEqual(byBytes);
      expect(listed).toEqual(["u:", "u:z", "u:é", "u:\uffff", "u:😀"]);
    });
  });

  describe("redis URL", () => {
    it("takes the deployment prefix from ?prefix=, and an option over it", async () => {
      const prefix = `${run}-url`;
      const fromUrl = open(`${url}?prefix=${prefix}`);
      const overridden = open(`${url}?prefix=${prefix}-other`, { prefix });
      try {
        await fromUrl.put("k", "v", 60_000);
        expect((await overridden.read("k"))?.value).toBe("v");
        expect(await raw.exists(`{${prefix}}:coord:e:k`)).toBe(1);
      } finally {
        await fromUrl.close();
        await overridden.close();
        await deleteDeployment(prefix);
      }
    });

    it("refuses a prefix with braces and a URL of another scheme, saying what to use", () => {
      expect(() => open(`${url}?prefix=a{b}`)).toThrow(/prefix must be 1–64 letters/);
      expect(() => open("postgres://127.0.0.1/x")).toThrow(/starts with redis:\/\/ or rediss:\/\//);
      expect(() => open("redis://127.0.0.1", { operationTimeoutMs: 0 })).toThrow(
        /operationTimeoutMs must be an integer between 100 and 600000/,
      );
    });
  });

  describe("redis outages", () => {
    it("rejects as unavailable within the operation timeout when nothing listens", async () => {
      const store = open("redis://127.0.0.1:1", { operationTimeoutMs: 300 });
      try {
        const started = performance.now();
        await expect(store.claim("k", "v", 1_000)).rejects.toMatchObject({ code: "unavailable" });
        await expect(store.ping()).rejects.toMatchObject({ code: "unavailable" });
        expect(performance.now() - started).toBeLessThan(2 * 300 + 500);
      } finally {
        await store.close();
      }
    });

    it("rides out a Redis restart: unavailable while it is down, then its scripts are sent again", async () => {
      // A private server: restarting the shared one would disturb everyone else's tests. Without
      // persistence it comes back empty, script cache included (NOSCRIPT, then EVAL).
      const server = await startPrivateRedis({ persistence: "none" });
      const store = open(server.url, { operationTimeoutMs: 500 });
      try {
        expect(await store.claim("before", "v", 60_000)).toEqual({ claimed: true });
        await server.kill();
        await expect(store.claim("during", "v", 60_000)).rejects.toMatchObject({
          code: "unavailable",
        });
        await server.start();
        await pollUntilSettled(() => store.ping());
        expect(await store.claim("after", "v", 60_000)).toEqual({ claimed: true });
        expect(await store.list("", { limit: 10 })).toMatchObject({ entries: [{ key: "after" }] });
      } finally {
        await store.close();
        await server.cleanup();
      }
    });

    it("fails a call whose reply was lost at once, and does not send it again", async () => {
      const prefix = `${run}-lost`;
      const target = new URL(url);
      const proxy = await startLossyProxy({
        host: target.hostname,
        port: Number(target.port || 6379),
      });
      const store = open(proxy.url, { prefix, operationTimeoutMs: 5_000 });
      try {
        await store.ping();
        const cut = proxy.cutAfterRequest("lost-value");
        const started = performance.now();
        await expect(store.claim("lost", "lost-value", 60_000)).rejects.toMatchObject({
          code: "unavailable",
        });
        await cut;
        // Not the 5 s timeout: the dropped connection fails the call by itself.
        expect(performance.now() - started).toBeLessThan(2_000);
        // The claim was applied once (the lost reply); after the reconnect it is still ours,
        // and no resend turned it into a refused claim or a second write.
        expect(await store.read("lost")).toMatchObject({ value: "lost-value" });
        expect(await store.claim("lost", "again", 60_000)).toMatchObject({
          claimed: false,
          holder: { value: "lost-value" },
        });
      } finally {
        await store.close();
        await proxy.close();
        await deleteDeployment(prefix);
      }
    });
  });
});

/** Retries `call` until it resolves, for at most 5 s (a reconnect takes up to a 1 s backoff). */
async function pollUntilSettled(call: () => Promise<unknown>): Promise<void> {
  const deadline = performance.now() + 5_000;
  for (;;) {
    try {
      await call();
      return;
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

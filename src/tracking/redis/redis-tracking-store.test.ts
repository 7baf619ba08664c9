import { afterAll, describe, expect, it } from "vitest";
import { deleteKeys, testPrefix, trackingKeys } from "../../../test/support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { describeTrackingConformance } from "../conformance/tracking.case.js";
import { openRedisTrackingStore } from "./open-redis-tracking-store.js";

// The shared Redis on 127.0.0.1:6379: every store gets a prefix of its own, and its keys are
// deleted when the case ends.

const available = await serviceAvailable("redis");
const url = SERVICES.redis.url;
const run = testPrefix("conf");
let stores = 0;

describe.skipIf(!available)("Redis tracking store", () => {
  afterAll(async () => {
    await deleteKeys(url, trackingKeys(`${run}*`));
  });

  // Retention off: the suite's events are dated 2026-11-27 (T0) and 10 days before, which a
  // retention counted from the real clock could expire on write.
  describeTrackingConformance("redis", async () => {
    stores += 1;
    const prefix = `${run}-${stores}`;
    return {
      open: async () => openRedisTrackingStore(`${url}?prefix=${prefix}&retention=0`),
      async cleanup() {
        await deleteKeys(url, trackingKeys(prefix));
      },
    };
  });

  it("fails as unavailable, without hanging, when the server cannot be reached", async () => {
    const store = openRedisTrackingStore("redis://127.0.0.1:1?retention=0", {
      connectTimeoutMs: 300,
    });
    try {
      await expect(store.migrate()).rejects.toMatchObject({ code: "unavailable" });
      await expect(
        store.record([{ taskId: "x", run: 0, attempt: 0, status: "PENDING", at: 1 }]),
      ).rejects.toMatchObject({ code: "unavailable" });
      await expect(store.get("x")).rejects.toMatchObject({ code: "unavailable" });
    } finally {
      await store.close();
    }
  });
});

import { describe, expect, it } from "vitest";
import { resolveConfig } from "../config/config.js";
import { createMemoryCoordinationStore } from "../coordination/memory/memory-coordination-store.js";
import { silentLogger } from "../logging/logger.js";
import { effectiveCoordinationUrl, LazyCoordination } from "./coordination.js";

// GOTASKQ_COORDINATION_URL: derived by default, `none` turns it off, an unknown scheme fails at
// once, and the store opens only when something asks for it.

const urlFor = (env: Record<string, string>) => effectiveCoordinationUrl(resolveConfig(env));

describe("GOTASKQ_COORDINATION_URL", () => {
  it("defaults to a file beside a SQLite broker, a Redis broker, else a Postgres or Redis tracking store", () => {
    expect(urlFor({})).toBe("sqlite://.gotaskq/coordination.db");
    expect(urlFor({ GOTASKQ_BROKER_URL: "redis://r:6379/0?prefix=p" })).toBe(
      "redis://r:6379/0?prefix=p",
    );
    expect(
      urlFor({ GOTASKQ_BROKER_URL: "amqp://h", GOTASKQ_TRACKING_URL: "postgres://db/x" }),
    ).toBe("postgres://db/x");
    expect(urlFor({ GOTASKQ_BROKER_URL: "amqp://h" })).toBeUndefined();
  });

  it("takes an explicit URL, and none turns it off", () => {
    expect(urlFor({ GOTASKQ_COORDINATION_URL: "memory://" })).toBe("memory://");
    expect(urlFor({ GOTASKQ_COORDINATION_URL: "none" })).toBeUndefined();
  });

  it("refuses an unknown scheme at once, naming the variable", () => {
    expect(() => new LazyCoordination("mysql://x", { logger: silentLogger() })).toThrow(
      /GOTASKQ_COORDINATION_URL "mysql:\/\/x" has an unknown scheme/,
    );
  });
});

describe("LazyCoordination", () => {
  it("opens the store on the first call only, shares it, and closes it", async () => {
    let opened = 0;
    const store = createMemoryCoordinationStore();
    const lazy = new LazyCoordination("memory://", {
      logger: silentLogger(),
      open: async () => {
        opened += 1;
        return store;
      },
    });
    expect(opened).toBe(0);
    const [a, b] = await Promise.all([lazy.store(), lazy.store()]);
    expect(a).toBe(b);
    expect(opened).toBe(1);
    await lazy.close();
    await expect(store.ping()).rejects.toMatchObject({ code: "unavailable" });
    await expect(lazy.store()).rejects.toMatchObject({ code: "unavailable" });
  });

  it("refuses with unavailable naming the variable when none is configured", async () => {
    const lazy = new LazyCoordination(undefined, { logger: silentLogger() });
    await expect(lazy.store()).rejects.toThrow(/set GOTASKQ_COORDINATION_URL/);
  });

  it("tries again after a failed open", async () => {
    let attempts = 0;
    const lazy = new LazyCoordination("memory://", {
      logger: silentLogger(),
      open: async () => {
        attempts += 1;
        if (attempts === 1) throw new Error("not yet");
        return createMemoryCoordinationStore();
      },
    });
    await expect(lazy.store()).rejects.toThrow("not yet");
    await expect(lazy.store()).resolves.toBeDefined();
    await lazy.close();
  });
});

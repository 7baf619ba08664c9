import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { COORDINATION_ADAPTERS, defaultCoordinationUrl, openCoordinationStore } from "./open.js";

describe("openCoordinationStore", () => {
  it("routes every scheme to an adapter that lists it in its SCHEMES", async () => {
    for (const [scheme, load] of Object.entries(COORDINATION_ADAPTERS)) {
      expect((await load()).SCHEMES, scheme).toContain(scheme);
    }
  });

  it("opens memory:// and sqlite:// stores", async () => {
    const memory = await openCoordinationStore("memory://", { prefix: "app" });
    expect(memory.kind).toBe("memory");
    await memory.close();
    const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-coordination-open-"));
    try {
      const sqlite = await openCoordinationStore(`sqlite://${dir}/c.db`, {
        operationTimeoutMs: 1_000,
      });
      expect(sqlite.kind).toBe("sqlite");
      await sqlite.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an unknown scheme, naming the variable and the schemes it takes", async () => {
    await expect(openCoordinationStore("amqp://localhost")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/GOTASKQ_COORDINATION_URL.*sqlite:\/\/.*redis.*postgres/),
    });
    await expect(openCoordinationStore("none")).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });
});

describe("defaultCoordinationUrl", () => {
  const tracking = "sqlite://.gotaskq/tracking.db";

  it("puts a SQLite broker's coordination in a sibling file", () => {
    expect(defaultCoordinationUrl("sqlite://.gotaskq/broker.db", tracking)).toBe(
      "sqlite://.gotaskq/coordination.db",
    );
    expect(defaultCoordinationUrl("sqlite:///var/lib/q/broker.db?synchronous=full", tracking)).toBe(
      "sqlite:///var/lib/q/coordination.db",
    );
    expect(defaultCoordinationUrl("sqlite://broker.db", tracking)).toBe("sqlite://coordination.db");
  });

  it("uses a Redis broker itself", () => {
    expect(defaultCoordinationUrl("redis://127.0.0.1:6379/2", tracking)).toBe(
      "redis://127.0.0.1:6379/2",
    );
    expect(defaultCoordinationUrl("rediss://cache:6380", "postgres://db/x")).toBe(
      "rediss://cache:6380",
    );
  });

  it("falls back to a PostgreSQL or Redis tracking store, else none", () => {
    const amqp = "amqp://guest:guest@127.0.0.1:5672";
    expect(defaultCoordinationUrl(amqp, "postgres://u@db/gotaskq")).toBe("postgres://u@db/gotaskq");
    expect(defaultCoordinationUrl("sqs://?region=x", "postgresql://db/q")).toBe(
      "postgresql://db/q",
    );
    expect(defaultCoordinationUrl(amqp, "redis://r:6379")).toBe("redis://r:6379");
    expect(defaultCoordinationUrl(amqp, tracking)).toBeUndefined();
    expect(defaultCoordinationUrl("memory://", "none")).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { BROKER_ADAPTERS, openBroker, openTracking, TRACKING_ADAPTERS } from "./open.js";

describe("opening backends by URL", () => {
  it("routes every scheme to an adapter that declares it, and every declared scheme has a route", async () => {
    for (const table of [BROKER_ADAPTERS, TRACKING_ADAPTERS]) {
      const declared = new Set<string>();
      for (const [scheme, load] of Object.entries(table)) {
        const adapter = await load();
        expect(adapter.SCHEMES, `adapter behind ${scheme}`).toContain(scheme);
        for (const s of adapter.SCHEMES) declared.add(s);
      }
      expect([...declared].sort()).toEqual(Object.keys(table).sort());
    }
  });

  it("refuses an unknown scheme, naming the schemes it knows", async () => {
    await expect(openBroker("kafka://127.0.0.1:9092")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("use sqlite://, amqp(s)://"),
    });
    await expect(openTracking("mysql://127.0.0.1/db")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("postgres://"),
    });
    await expect(openTracking("none:later")).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("refuses a sqlite URL that names no file", async () => {
    await expect(openBroker("sqlite://")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("names no file"),
    });
    await expect(openTracking("sqlite://?write_thread=on")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("names no file"),
    });
  });

  it("opens memory:// and none without a server", async () => {
    const broker = await openBroker("memory://");
    expect(broker.kind).toBe("memory");
    await broker.close();
    const store = await openTracking("none");
    expect(store.kind).toBe("none");
    await store.close();
  });
});

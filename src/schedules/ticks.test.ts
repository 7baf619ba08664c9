import { describe, expect, it } from "vitest";
import { latestTicksBetween, nextTicks, ticksBetween } from "./ticks.js";

const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString());
const at = (text: string) => Date.parse(text);

describe("tick computation", () => {
  it("puts interval ticks on multiples of the interval since the epoch", () => {
    const every7 = { every_ms: 7_000 };
    const ticks = nextTicks(every7, at("2026-01-01T00:00:00.500Z"), 3);
    expect(ticks.every((t) => t % 7_000 === 0)).toBe(true);
    expect(ticksBetween({ every_ms: 1_000 }, 10_000, 13_000, 10)).toEqual([11_000, 12_000, 13_000]);
  });

  it("reads 6-field expressions with seconds first", () => {
    expect(iso(nextTicks({ cron: "*/20 * * * * *" }, at("2026-01-01T00:00:00Z"), 3))).toEqual([
      "2026-01-01T00:00:20.000Z",
      "2026-01-01T00:00:40.000Z",
      "2026-01-01T00:01:00.000Z",
    ]);
  });

  it("gives the latest ticks of a gap, earliest first, bounded by the count", () => {
    const every = { every_ms: 1_000 };
    expect(latestTicksBetween(every, 10_000, 30_400, 3)).toEqual([28_000, 29_000, 30_000]);
    expect(latestTicksBetween(every, 27_000, 30_000, 10)).toEqual([28_000, 29_000, 30_000]);
    const cron = { cron: "0 * * * *", timezone: "UTC" };
    expect(
      iso(latestTicksBetween(cron, at("2026-01-01T00:00:00Z"), at("2026-01-01T05:30:00Z"), 2)),
    ).toEqual(["2026-01-01T04:00:00.000Z", "2026-01-01T05:00:00.000Z"]);
  });

  it("runs a fixed-time job in the spring-forward gap once, right after the gap", () => {
    // Europe/Berlin skips 02:00–03:00 local on 2026-03-29: 02:30 does not exist that day.
    const ticks = nextTicks(
      { cron: "30 2 * * *", timezone: "Europe/Berlin" },
      at("2026-03-27T12:00:00Z"),
      3,
    );
    expect(iso(ticks)).toEqual([
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST, the first valid time after the gap
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
    ]);
  });

  it("runs a fixed-time job once in the fall-back hour, and an hourly job on both passes", () => {
    // Europe/Berlin repeats 02:00–03:00 local on 2026-10-25 (CEST 00:00Z–01:00Z, then CET 01:00Z–02:00Z).
    const fixed = ticksBetween(
      { cron: "30 2 * * *", timezone: "Europe/Berlin" },
      at("2026-10-24T12:00:00Z"),
      at("2026-10-25T12:00:00Z"),
      10,
    );
    expect(iso(fixed)).toEqual(["2026-10-25T00:30:00.000Z"]);
    const hourly = ticksBetween(
      { cron: "0 * * * *", timezone: "Europe/Berlin" },
      at("2026-10-24T23:30:00Z"),
      at("2026-10-25T02:30:00Z"),
      10,
    );
    expect(iso(hourly)).toEqual([
      "2026-10-25T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T01:00:00.000Z", // 02:00 CET, the repeated hour
      "2026-10-25T02:00:00.000Z", // 03:00 CET
    ]);
  });
});

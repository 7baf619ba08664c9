import { InvalidArgumentError } from "commander";
import { describe, expect, it } from "vitest";
import { timeOption } from "./options.js";

describe("timeOption (--since, --until)", () => {
  const now = Date.parse("2026-12-08T12:00:00.000Z");
  const parse = timeOption("--since", () => now);

  it("turns a time ago into an ISO time", () => {
    expect(parse("30m")).toBe("2026-12-08T11:30:00.000Z");
    expect(parse("1h")).toBe("2026-12-08T11:00:00.000Z");
    expect(parse("2d")).toBe("2026-12-06T12:00:00.000Z");
    expect(parse("1h30m")).toBe("2026-12-08T10:30:00.000Z");
    expect(parse("1w")).toBe("2026-12-01T12:00:00.000Z");
  });

  it("passes an ISO time or epoch milliseconds through", () => {
    expect(parse("2026-11-27T12:00:00Z")).toBe("2026-11-27T12:00:00Z");
    expect(parse("2026-11-27")).toBe("2026-11-27");
    expect(parse("1764244800000")).toBe("1764244800000");
  });

  it("refuses anything else, naming the flag and the accepted forms", () => {
    for (const bad of ["yesterday", "1 hour", "1.5h", "-1h", "h", "2026-13-45"]) {
      expect(() => parse(bad)).toThrow(InvalidArgumentError);
      expect(() => parse(bad)).toThrow(
        /^--since takes a time ago such as 30m, 1h or 2d .* or an ISO 8601 time/,
      );
    }
  });
});

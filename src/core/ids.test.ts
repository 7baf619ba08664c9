import { describe, expect, it } from "vitest";
import { derivedTaskId, isTaskId, newTaskId } from "./ids.js";

describe("derivedTaskId", () => {
  it("is a valid, time-ordered UUIDv7, the same for the same name and time only", () => {
    const at = Date.parse("2026-12-08T01:00:00Z");
    const id = derivedTaskId(at, "schedule:nightly:1796778000000");
    expect(isTaskId(id)).toBe(true);
    expect(id[14]).toBe("7");
    expect("89ab").toContain(id[19]);
    expect(derivedTaskId(at, "schedule:nightly:1796778000000")).toBe(id);
    expect(derivedTaskId(at, "schedule:other:1796778000000")).not.toBe(id);
    expect(derivedTaskId(at + 1, "schedule:nightly:1796778000000")).not.toBe(id);
    // Its timestamp is `at`, so it sorts between ids made just before and just after.
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(at);
    const before = newTaskId();
    const now = derivedTaskId(Date.now(), "x");
    expect(before.slice(0, 8) <= now.slice(0, 8)).toBe(true);
  });
});

import { describe, expect, it } from "vitest";
import { supersedes } from "./status.js";

describe("monotonic status merge", () => {
  const v = (run: number, attempt: number, status: Parameters<typeof supersedes>[0]["status"]) => ({
    run,
    attempt,
    status,
  });

  it("lets a later state of the same attempt replace an earlier one", () => {
    expect(supersedes(v(0, 0, "STARTED"), v(0, 0, "PENDING"))).toBe(true);
    expect(supersedes(v(0, 0, "SUCCESS"), v(0, 0, "STARTED"))).toBe(true);
  });

  it("never lets an earlier state or an older attempt overwrite a newer one", () => {
    expect(supersedes(v(0, 0, "PENDING"), v(0, 0, "STARTED"))).toBe(false);
    expect(supersedes(v(0, 0, "FAILURE"), v(0, 1, "PENDING"))).toBe(false);
    expect(supersedes(v(0, 3, "SUCCESS"), v(1, 0, "PENDING"))).toBe(false);
  });

  it("keeps the first final state of an attempt", () => {
    expect(supersedes(v(0, 0, "CANCELED"), v(0, 0, "SUCCESS"))).toBe(false);
  });

  it("refreshes a non-final state at an equal version (a redelivery re-reports STARTED)", () => {
    expect(supersedes(v(0, 0, "STARTED"), v(0, 0, "STARTED"))).toBe(true);
  });

  it("lets a requeued run replace a final state", () => {
    expect(supersedes(v(1, 0, "PENDING"), v(0, 2, "FAILURE"))).toBe(true);
  });
});

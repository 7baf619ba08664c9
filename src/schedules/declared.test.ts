import { describe, expect, it } from "vitest";
import { defineTasks } from "../tasks/registry.js";
import { declaredSchedules, defineSchedules } from "./declared.js";

// A task module's `schedules` export, read the way `--tasks` loads it.

const registry = defineTasks({ "report.build": async () => "ok" });
const limits = { registry, maxPayloadBytes: 1_048_576 };

describe("declared schedules", () => {
  it("takes the id from the object's key, or from each item of an array", () => {
    const byKey = declaredSchedules(
      defineSchedules({ nightly: { function_key: "report.build", cron: "0 3 * * *" } }),
      limits,
    );
    expect(byKey.map((s) => [s.id, s.cron, s.timezone])).toEqual([["nightly", "0 3 * * *", "UTC"]]);
    const listed = declaredSchedules(
      [{ id: "beat", function_key: "report.build", every: "30s" }],
      limits,
    );
    expect(listed.map((s) => s.id)).toEqual(["beat"]);
    expect(declaredSchedules(undefined, limits)).toEqual([]);
  });

  it("names the module and the schedule in a refusal", () => {
    expect(() =>
      declaredSchedules(
        { beat: { function_key: "report.bild", every: "30s" } },
        limits,
        "--tasks t.mjs",
      ),
    ).toThrow(
      /^--tasks t\.mjs: schedules\.beat: unknown function_key "report\.bild"; did you mean "report\.build"/,
    );
    expect(() =>
      declaredSchedules(
        [
          { id: "a", function_key: "report.build", every: "1s" },
          { id: "a", function_key: "report.build", every: "2s" },
        ],
        limits,
      ),
    ).toThrow(/schedules\[1\]: schedule id "a" is declared twice/);
    expect(() => declaredSchedules("every day", limits)).toThrow(
      /must be an object of schedules by id/,
    );
  });
});

import { describe, expect, it } from "vitest";
import { UnknownFunctionError } from "../core/errors.js";
import { defineTasks } from "../tasks/registry.js";
import { parseInterval, validateSchedule } from "./validation.js";

const limits = { maxPayloadBytes: 1_048_576 };
const base = { id: "heartbeat", function_key: "demo.echo" };

function refusal(input: unknown, withRegistry = false): string {
  const registry = defineTasks({ "demo.echo": async (p: unknown) => p });
  try {
    validateSchedule(input, withRegistry ? { ...limits, registry } : limits);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error("the schedule was accepted");
}

describe("schedule validation", () => {
  it("applies the defaults: UTC, skip, allow, 10 catch-up ticks, not paused, empty payload", () => {
    expect(validateSchedule({ ...base, cron: " */5 * * * * " }, limits)).toEqual({
      ...base,
      cron: "*/5 * * * *",
      timezone: "UTC",
      payload: {},
      missed: "skip",
      catch_up_max: 10,
      overlap: "allow",
      paused: false,
    });
  });

  it("keeps the task options it is given, checked as a task submission", () => {
    const spec = validateSchedule(
      {
        ...base,
        every: "1m30s",
        payload: { a: 1 },
        queue: "reports",
        priority: 7,
        max_retries: 0,
        metadata: { team: "ops" },
        missed: "catch_up",
        catch_up_max: 3,
        overlap: "skip_if_running",
        paused: true,
      },
      limits,
    );
    expect(spec).toMatchObject({ every: "1m30s", queue: "reports", priority: 7, max_retries: 0 });
    expect(spec.metadata).toEqual({ team: "ops" });
    expect(parseInterval(spec.every)).toBe(90_000);
  });

  it("refuses an invalid cron expression, naming the field and the expected shape", () => {
    expect(refusal({ ...base, cron: "61 * * * *" })).toMatch(
      /cron "61 \* \* \* \*" is not valid: .*minute.*5 fields/,
    );
    expect(refusal({ ...base, cron: "* * * *" })).toMatch(/has 4 fields; write 5 fields/);
    expect(refusal({ ...base, cron: "* * * * * * *" })).toMatch(/has 7 fields/);
  });

  it("refuses an unknown time zone with examples of valid ones", () => {
    expect(refusal({ ...base, cron: "0 3 * * *", timezone: "Mars/Olympus" })).toMatch(
      /timezone "Mars\/Olympus" is not an IANA time zone; use a name such as "Europe\/Paris"/,
    );
  });

  it("refuses an interval under one second, and a time zone on an interval", () => {
    expect(refusal({ ...base, every: "500ms" })).toMatch(
      /every must be at least 1s \(got "500ms" = 500 ms\)/,
    );
    expect(refusal({ ...base, every: "soon" })).toMatch(/every must be an interval such as "30s"/);
    expect(refusal({ ...base, every: "1s", timezone: "UTC" })).toMatch(/remove timezone/);
  });

  it("wants exactly one of cron and every", () => {
    expect(refusal(base)).toMatch(/exactly one of cron .* and every/);
    expect(refusal({ ...base, cron: "* * * * *", every: "1s" })).toMatch(/exactly one/);
  });

  it("refuses a function the registry does not know, as the API does for tasks", () => {
    const registry = defineTasks({ "demo.echo": async (p: unknown) => p });
    expect(() =>
      validateSchedule(
        { ...base, function_key: "demo.ecko", every: "1s" },
        { ...limits, registry },
      ),
    ).toThrow(UnknownFunctionError);
    expect(refusal({ ...base, function_key: "demo.ecko", every: "1s" }, true)).toMatch(
      /unknown function_key "demo.ecko"; did you mean "demo.echo"/,
    );
  });

  it("refuses bad ids, unknown fields, reserved metadata and bad policies", () => {
    expect(refusal({ ...base, id: "has space", every: "1s" })).toMatch(/id must be 1 to 128/);
    expect(refusal({ ...base, every: "1s", schedule: "x" })).toMatch(
      /unknown schedule field "schedule"/,
    );
    expect(refusal({ ...base, every: "1s", metadata: { "gotaskq.tick": "x" } })).toMatch(
      /reserved/,
    );
    expect(refusal({ ...base, every: "1s", missed: "later" })).toMatch(
      /missed must be one of "skip", "catch_up"/,
    );
    expect(refusal({ ...base, every: "1s", catch_up_max: 0 })).toMatch(
      /catch_up_max must be an integer between 1 and 1000/,
    );
    expect(refusal({ ...base, every: "1s", priority: 12 })).toMatch(/priority/);
    const many = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "v"]));
    expect(refusal({ ...base, every: "1s", metadata: many })).toMatch(/at most 29/);
  });
});

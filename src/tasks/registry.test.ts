import { describe, expect, it } from "vitest";
import { InvalidArgumentError, UnknownFunctionError } from "../core/errors.js";
import { defineTasks, nearbyKeys, registryFromModule, TaskRegistry } from "./registry.js";

describe("TaskRegistry", () => {
  it("registers handlers by key with their options and lists them sorted", () => {
    const registry = new TaskRegistry()
      .register("report.build", async () => "ok", {
        queue: "reports",
        timeoutMs: 60_000,
        description: "builds a report",
      })
      .register("email.send", async () => "sent", { maxRetries: 5, schema: { type: "object" } });
    expect(registry.keys()).toEqual(["email.send", "report.build"]);
    expect(registry.describe()).toEqual([
      { key: "email.send", queue: "default", schema: { type: "object" }, maxRetries: 5 },
      { key: "report.build", queue: "reports", description: "builds a report", timeoutMs: 60_000 },
    ]);
    expect(registry.get("email.send")?.options.maxRetries).toBe(5);
    expect(registry.get("nope")).toBeUndefined();
  });

  it("refuses bad keys, duplicates, bad options and broken schemas at registration", () => {
    const registry = new TaskRegistry().register("a.b", () => 1);
    expect(() => registry.register("has space", () => 1)).toThrow(/function key must match/);
    expect(() => registry.register("a.b", () => 1)).toThrow(/already registered/);
    expect(() => registry.register("t1", () => 1, { timeoutMs: 0 })).toThrow(
      /timeoutMs must be an integer between 1 and/,
    );
    expect(() => registry.register("t2", () => 1, { maxRetries: 250 })).toThrow(
      /maxRetries must be an integer between 0 and 100 \(got 250\)/,
    );
    expect(() => registry.register("t3", () => 1, { queue: "no spaces" })).toThrow(
      /queue must match/,
    );
    expect(() =>
      registry.register("t4", () => 1, { backoff: { type: "linear" } as never }),
    ).toThrow(/backoff.type must be/);
    expect(() =>
      registry.register("t5", () => 1, { schema: { type: "object", requried: ["x"] } }),
    ).toThrow(/payload schema of "t5" is not a valid JSON Schema: .*requried/);
    expect(() => registry.register("t6", "not a function" as never)).toThrow(/must be a function/);
  });

  it("validates payloads with a readable message", () => {
    const registry = new TaskRegistry().register("email.send", () => 1, {
      schema: {
        type: "object",
        required: ["to", "subject"],
        additionalProperties: false,
        properties: {
          to: { type: "string", format: "email" },
          subject: { type: "string" },
          tags: { type: "array", items: { enum: ["a", "b"] } },
        },
      },
    });
    expect(() =>
      registry.validatePayload("email.send", { to: "x@example.com", subject: "hi" }),
    ).not.toThrow();
    const error = catchError(() =>
      registry.validatePayload("email.send", { to: "nope", cc: 1, tags: ["c"] }),
    );
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toBe(
      'payload does not match the schema of "email.send": payload must have the field "subject"; payload has the unexpected field "cc"; payload.to must match format "email"; payload.tags.0 must be one of ["a","b"]',
    );
  });

  it("refuses an unknown key with UnknownFunctionError, suggesting the nearest registered ones and listing them all", () => {
    const registry = defineTasks({
      "email.send": () => 1,
      "email.receive": () => 1,
      "report.build": () => 1,
    });
    expect(() => registry.validatePayload("email.sned", {})).toThrow(
      'unknown function_key "email.sned"; did you mean "email.send" or "email.receive"? (registered functions: email.receive, email.send, report.build)',
    );
    const error = catchError(() => registry.require("zzz"));
    expect(error).toBeInstanceOf(UnknownFunctionError);
    expect(error).toMatchObject({ code: "invalid_argument", functionKey: "zzz" });
    expect(error.message).toBe(
      'unknown function_key "zzz" (registered functions: email.receive, email.send, report.build)',
    );
    expect(() => new TaskRegistry().require("a")).toThrow(
      /^unknown function_key "a" \(no functions are registered\)$/,
    );
  });

  it("lists at most 20 registered keys in an unknown-key message", () => {
    const keys = Array.from({ length: 25 }, (_, i) => `job.n${String(i).padStart(2, "0")}`);
    const registry = defineTasks(Object.fromEntries(keys.map((k) => [k, () => 1])));
    const message = catchError(() => registry.require("zzz")).message;
    expect(message).toContain(`(registered functions: ${keys.slice(0, 20).join(", ")}, …)`);
  });

  it("suggests keys by edit distance and shared prefix", () => {
    expect(nearbyKeys("reprot.build", ["report.build", "email.send"])).toEqual(["report.build"]);
    expect(nearbyKeys("email.x", ["email.send", "email.receive", "sms.send"])).toEqual([
      "email.send",
      "email.receive",
    ]);
  });

  it("builds a registry from a task module's plain object", () => {
    const registry = defineTasks({
      "demo.echo": (payload) => payload,
      "demo.slow": { handler: async () => "done", timeoutMs: 5_000, queue: "slow" },
    });
    expect(registry.describe().map((d) => [d.key, d.queue, d.timeoutMs])).toEqual([
      ["demo.echo", "default", undefined],
      ["demo.slow", "slow", 5_000],
    ]);
    expect(() => defineTasks({ bad: 42 as never })).toThrow(
      /must be a handler function or \{ handler, \.\.\.options \}/,
    );
  });

  it("loads what a task module exports: a registry, a definitions object, as default or not", () => {
    const registry = defineTasks({ "a.b": () => 1 });
    expect(registryFromModule({ default: registry })).toBe(registry);
    expect(registryFromModule(registry)).toBe(registry);
    expect(registryFromModule({ default: { "x.y": () => 1 } }).keys()).toEqual(["x.y"]);
    expect(registryFromModule({ "x.y": () => 1 }).keys()).toEqual(["x.y"]);
    expect(() => registryFromModule({ default: 7 }, "--tasks t.js")).toThrow(
      /^--tasks t.js must export/,
    );
  });
});

function catchError(fn: () => void): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a throw");
}

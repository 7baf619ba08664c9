import { describe, expect, it } from "vitest";
import { backoffDelayMs } from "./backoff.js";
import { decodeEnvelope, encodeEnvelope } from "./envelope.js";
import { validateSubmission } from "./submission.js";
import { SUBMISSION_FIELDS, submissionJsonSchema } from "./submission-fields.js";

const limits = { maxPayloadBytes: 1_000, now: () => Date.parse("2026-11-27T12:00:00Z") };

describe("task validation", () => {
  it("applies defaults to a minimal submission", () => {
    expect(validateSubmission({ function_key: "email.send" }, limits)).toEqual({
      function_key: "email.send",
      payload: {},
      queue: "default",
      priority: 5,
      delay_ms: 0,
      metadata: {},
    });
  });

  it.each([
    [{}, "function_key is required"],
    [{ function_key: "bad key!" }, "function_key must match"],
    [{ function_key: "a", priority: 12 }, "priority must be an integer between 0 and 9 (got 12)"],
    [
      { function_key: "a", max_retries: 250 },
      "max_retries must be an integer between 0 and 100 (got 250)",
    ],
    [{ function_key: "a", max_retry: 3 }, 'unknown field "max_retry"'],
    [{ function_key: "a", payload: { s: "x".repeat(2_000) } }, "the limit is 1000 bytes"],
    [
      { function_key: "a", delay_ms: 1, run_at: "2026-11-28T00:00:00Z" },
      "either delay_ms or run_at",
    ],
    [{ function_key: "a", run_at: "tomorrow" }, "run_at must be an ISO 8601 instant"],
    [
      { function_key: "a", backoff: { type: "linear" } },
      'backoff.type must be "exponential" or "fixed"',
    ],
    [{ function_key: "a", metadata: { n: 1 } }, "metadata.n must be a string"],
    ["nope", "a task must be a JSON object"],
  ])("refuses %j with a message that says what to change", (input, message) => {
    expect(() => validateSubmission(input, limits)).toThrow(message);
  });

  it("refuses payloads nested deeper than 64 levels", () => {
    let payload: unknown = 1;
    for (let i = 0; i < 70; i++) payload = [payload];
    expect(() => validateSubmission({ function_key: "a", payload }, limits)).toThrow(
      "nests deeper than 64",
    );
  });

  it("refuses a payload over the limit as too large (413 / RESOURCE_EXHAUSTED), not as invalid", () => {
    const payload = { s: "x".repeat(2_000) };
    expect(() => validateSubmission({ function_key: "a", payload }, limits)).toThrow(
      expect.objectContaining({
        name: "PayloadTooLargeError",
        code: "resource_exhausted",
        limitBytes: 1_000,
        message:
          "payload is 2008 bytes; the limit is 1000 bytes (JSON-encoded); send a smaller payload",
      }),
    );
  });

  it("turns run_at into a delay", () => {
    expect(
      validateSubmission({ function_key: "a", run_at: "2026-11-27T12:00:05Z" }, limits).delay_ms,
    ).toBe(5_000);
  });
});

describe("the submission's field table", () => {
  const schema = submissionJsonSchema() as {
    required: string[];
    additionalProperties: boolean;
    properties: Record<string, Record<string, unknown>>;
  };

  it("writes a JSON Schema that describes every field the validator accepts, and no other", () => {
    expect(Object.keys(schema.properties)).toEqual(Object.keys(SUBMISSION_FIELDS));
    expect(schema.required).toEqual(["function_key"]);
    expect(schema.additionalProperties).toBe(false);
    for (const [name, property] of Object.entries(schema.properties)) {
      expect(property.description, name).toEqual(expect.any(String));
    }
  });

  it("states in the schema the bounds and patterns the validator applies", () => {
    expect(schema.properties.priority).toMatchObject({
      type: ["integer", "null"],
      minimum: 0,
      maximum: 9,
      default: 5,
    });
    expect(schema.properties.function_key).toMatchObject({
      type: "string",
      pattern: "^[A-Za-z0-9_.:-]{1,128}$",
    });
    expect(schema.properties.idempotency_key).toMatchObject({ minLength: 1, maxLength: 256 });
    expect(schema.properties.run_at).toMatchObject({ format: "date-time" });
    expect(schema.properties.metadata).toMatchObject({ maxProperties: 32 });
    // Each bound holds on both sides of the edge, as the schema says.
    for (const [name, spec] of Object.entries(SUBMISSION_FIELDS)) {
      if (spec.kind !== "integer") continue;
      for (const value of [spec.min, spec.max]) {
        expect(() =>
          validateSubmission({ function_key: "a", [name]: value }, limits),
        ).not.toThrow();
      }
      for (const value of [spec.min - 1, spec.max + 1, 1.5]) {
        expect(() => validateSubmission({ function_key: "a", [name]: value }, limits)).toThrow(
          `${name} must be an integer between ${spec.min} and ${spec.max} (got ${value})`,
        );
      }
    }
  });

  it("takes null as not given exactly for the fields the schema marks nullable", () => {
    for (const [name, property] of Object.entries(schema.properties)) {
      const nullable = Array.isArray(property.type) && property.type.includes("null");
      const input = { function_key: "a", [name]: null };
      if (name === "payload") {
        // Any JSON, null included: a value, not an absence.
        expect(validateSubmission(input, limits).payload).toBeNull();
      } else if (nullable) {
        expect(() => validateSubmission(input, limits), name).not.toThrow();
      } else {
        expect(() => validateSubmission(input, limits), name).toThrow(`${name} must`);
      }
    }
  });

  it("refuses unknown backoff fields and run_at without a time zone, as the schema does", () => {
    expect(() =>
      validateSubmission({ function_key: "a", backoff: { type: "fixed", delay: 5 } }, limits),
    ).toThrow('unknown field "delay" in backoff; allowed fields: type, base_ms, max_ms, delay_ms');
    expect(() => validateSubmission({ function_key: "a", run_at: "2026-12-01" }, limits)).toThrow(
      'run_at must be an ISO 8601 instant such as 2026-12-01T09:00:00Z (got "2026-12-01")',
    );
    expect(() => validateSubmission({ function_key: "a", idempotency_key: "" }, limits)).toThrow(
      'idempotency_key must be a string of 1 to 256 characters (got "")',
    );
  });
});

describe("backoff", () => {
  it("draws exponential delays with full jitter under the capped ceiling", () => {
    const policy = { type: "exponential", base_ms: 100, max_ms: 1_000 } as const;
    expect(backoffDelayMs(policy, 0, null, () => 0.999)).toBe(99);
    expect(backoffDelayMs(policy, 3, null, () => 0.5)).toBe(400);
    expect(backoffDelayMs(policy, 20, null, () => 0.999)).toBe(999);
    expect(backoffDelayMs(policy, 2, null, () => 0)).toBe(0);
  });

  it("supports fixed and custom policies", () => {
    expect(backoffDelayMs({ type: "fixed", delay_ms: 250 }, 7, null)).toBe(250);
    expect(backoffDelayMs((attempt) => attempt * 10, 4, null)).toBe(40);
  });
});

describe("wire envelope v1", () => {
  const envelope = {
    v: 1 as const,
    id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
    function_key: "email.send",
    payload: { to: "a@example.com" },
    queue: "default",
    priority: 5,
    attempt: 0,
    run: 0,
    max_retries: 3,
    created_at: "2026-11-27T12:00:00.000Z",
    metadata: {},
  };

  it("round-trips and ignores unknown fields", () => {
    const body = new TextEncoder().encode(
      JSON.stringify({
        ...JSON.parse(new TextDecoder().decode(encodeEnvelope(envelope))),
        future: true,
      }),
    );
    expect(decodeEnvelope(body)).toEqual(envelope);
  });

  it.each([
    ["not json", "not UTF-8 JSON"],
    ["[1]", "not a JSON object"],
    ['{"v":2}', "unsupported envelope version 2"],
    ['{"v":1,"id":"x","function_key":"bad key"}', "function_key is invalid"],
  ])("refuses %s", (text, message) => {
    expect(() => decodeEnvelope(new TextEncoder().encode(text))).toThrow(message);
  });

  it("drops __proto__ keys from payloads", () => {
    const body = new TextEncoder().encode(
      '{"v":1,"id":"x","function_key":"a","payload":{"__proto__":{"polluted":true}}}',
    );
    const decoded = decodeEnvelope(body);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(decoded.payload as object)).toEqual([]);
  });

  it.each([
    ["fully escaped", String.raw`"\u005f\u005f\u0070\u0072\u006f\u0074\u006f\u005f\u005f"`],
    ["partly escaped", String.raw`"__pr\u006fto__"`],
  ])("drops %s __proto__ keys from payloads", (_how, key) => {
    const body = new TextEncoder().encode(
      `{"v":1,"id":"x","function_key":"a","payload":{"keep":1,${key}:{"polluted":true}}}`,
    );
    const payload = decodeEnvelope(body).payload as object;
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(payload)).toEqual(["keep"]);
    expect(Object.hasOwn(payload, "__proto__")).toBe(false);
    expect(Object.getPrototypeOf(payload)).toBe(Object.prototype);
  });
});

describe("task ids", async () => {
  const { isTaskId, newTaskId } = await import("./ids.js");

  it("are unique, valid UUIDv7 and time-ordered across pool refills", () => {
    const ids = Array.from({ length: 5_000 }, () => newTaskId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => isTaskId(id) && id[14] === "7")).toBe(true);
    expect([...ids].sort()).toEqual(ids);
  });
});

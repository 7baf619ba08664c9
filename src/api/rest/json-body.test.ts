import { describe, expect, it } from "vitest";
import { MAX_BODY_DEPTH, nestsDeeperThan, parseJsonBody } from "./json-body.js";

// The hardened JSON body parser: depth measured on the raw text, prototype keys made inert.

describe("nestsDeeperThan", () => {
  it("counts objects and arrays, not brackets inside strings", () => {
    expect(nestsDeeperThan('{"a":[[1]]}', 3)).toBe(false);
    expect(nestsDeeperThan('{"a":[[[1]]]}', 3)).toBe(true);
    expect(nestsDeeperThan(`{"s":"${"[".repeat(1_000)}"}`, 2)).toBe(false);
    expect(nestsDeeperThan('{"s":"a\\"[[[[","t":[1]}', 2)).toBe(false);
    expect(nestsDeeperThan('{"s":"a\\\\","t":[[1]]}', 2)).toBe(true);
  });

  it("handles a 100,000-deep document without recursion", () => {
    expect(nestsDeeperThan("[".repeat(100_000), MAX_BODY_DEPTH)).toBe(true);
  });
});

describe("parseJsonBody", () => {
  it("refuses nesting beyond the limit with a message that says to flatten", () => {
    const deep = `{"payload":${"[".repeat(70)}${"]".repeat(70)}}`;
    expect(() => parseJsonBody(deep)).toThrow(
      /nests objects\/arrays deeper than 67 levels.*flatten it/,
    );
  });

  it("drops __proto__ keys (also when escaped) and constructor.prototype, keeping other data", () => {
    const body = parseJsonBody(
      '{"a":{"__proto__":{"polluted":1}},"b":{"\\u005f_proto__":{"polluted":2}},"c":{"constructor":{"prototype":{"x":1}}},"d":{"constructor":"Bob"}}',
    ) as Record<string, Record<string, unknown>>;
    expect(Object.hasOwn(body.a ?? {}, "__proto__")).toBe(false);
    expect(Object.hasOwn(body.b ?? {}, "__proto__")).toBe(false);
    expect(body.c).toEqual({});
    expect(body.d).toEqual({ constructor: "Bob" });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.assign({}, body.a).polluted).toBeUndefined();
  });

  it("treats an empty body as no body, and says what is wrong with malformed JSON", () => {
    expect(parseJsonBody("  ")).toBeUndefined();
    expect(() => parseJsonBody('{"a":')).toThrow(
      /the request body is not valid JSON \(.+\); send a JSON object/,
    );
  });
});

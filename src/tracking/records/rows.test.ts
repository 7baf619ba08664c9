import { describe, expect, it } from "vitest";
import { jsonText, metadataText } from "./rows.js";

describe("jsonText and metadataText", () => {
  class Tagged {
    readonly tag = "t";
  }
  const hidden = {};
  Object.defineProperty(hidden, "secret", { value: 1, enumerable: false });
  const values: [string, unknown][] = [
    ["null", null],
    ["an empty object", {}],
    ["an object with keys", { tenant: "a", trace: "b" }],
    ["an object without a prototype", Object.create(null)],
    ["an empty class instance", new (class Empty {})()],
    ["a class instance with fields", new Tagged()],
    ["an object with toJSON", { toJSON: () => "custom" }],
    ["an empty object whose prototype has toJSON", Object.create({ toJSON: () => 7 })],
    ["a Date", new Date(0)],
    ["an empty array", []],
    ["an object with only a non-enumerable key", hidden],
    ["an object with only a symbol key", { [Symbol("s")]: 1 }],
    ["a string", "text"],
    ["a number", 42],
  ];

  it.each(values)("give JSON.stringify's text for %s", (_, value) => {
    expect(jsonText(value)).toBe(JSON.stringify(value));
    expect(metadataText(value)).toBe(JSON.stringify(value));
  });

  it("give NULL for undefined", () => {
    expect(jsonText(undefined)).toBeNull();
    expect(metadataText(undefined)).toBeNull();
  });
});

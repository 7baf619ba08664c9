import { InvalidArgumentError } from "./errors.js";

// Payloads are attacker-controlled JSON. These checks run before anything is enqueued so a
// hostile document fails with a clear 4xx instead of exhausting a worker later.

export const MAX_JSON_DEPTH = 64;

/** Throws when `value` nests objects/arrays deeper than `maxDepth` (iterative: no stack overflow). */
export function assertJsonDepth(value: unknown, field: string, maxDepth = MAX_JSON_DEPTH): void {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop() as [unknown, number];
    if (typeof node !== "object" || node === null) continue;
    if (depth > maxDepth) {
      throw new InvalidArgumentError(`${field} nests deeper than ${maxDepth} levels; flatten it`);
    }
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
}

/**
 * JSON.parse that drops `__proto__` keys, so a decoded document can never carry a
 * prototype-polluting key into code that merges objects. The dropping reviver is several times
 * slower than JSON.parse, so it runs only on text that could hold such a key: one that spells
 * `__proto__` or contains a `\u` escape (which could spell it, `"\u005f_proto__"`). JSON has
 * no other way to write a key, so every other text parses without it.
 */
export function parseJsonSafe(text: string): unknown {
  if (text.includes("__proto__") || text.includes("\\u")) {
    return JSON.parse(text, dropProtoKeys);
  }
  return JSON.parse(text);
}

function dropProtoKeys(key: string, value: unknown): unknown {
  return key === "__proto__" ? undefined : value;
}

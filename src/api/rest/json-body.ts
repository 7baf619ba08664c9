import { InvalidArgumentError } from "../../core/errors.js";
import { MAX_JSON_DEPTH } from "../../core/json-guard.js";

// The only request body parser: JSON, hardened against hostile documents before anything else
// sees them.
// - Nesting is measured on the raw text first (a linear scan that skips string contents), so a
//   10,000-deep document is refused without building it. The limit is the payload's 64 plus the
//   3 levels a batch wraps around a payload (body → tasks → item); the payload's own limit is then
//   checked, with its own message, by the submission validator.
// - `__proto__` keys are dropped, and so is a `constructor` key whose value holds a `prototype`
//   (the only shape that can poison a prototype through a naive merge). JSON.parse alone never
//   pollutes, but code merging the result with Object.assign could: this keeps the body inert.
//   The dropping reviver is slow, so it runs only on text that could contain such keys.

/** Body nesting accepted: the payload limit plus the batch envelope (body, tasks, item). */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 3;

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const OPEN_BRACKET = 91;
const CLOSE_BRACE = 125;
const CLOSE_BRACKET = 93;

/** Index of the quote closing the string whose contents start at `from` (-1: unterminated). */
function closingQuote(text: string, from: number): number {
  let i = text.indexOf('"', from);
  while (i !== -1) {
    let backslashes = 0;
    for (let j = i - 1; j >= from && text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return i;
    i = text.indexOf('"', i + 1);
  }
  return -1;
}

/** Whether objects/arrays in `text` nest deeper than `limit` (malformed text: JSON.parse decides). */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i + 1);
      if (i === -1) return false;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

function inert(key: string, value: unknown): unknown {
  if (key === "__proto__") return undefined;
  if (
    key === "constructor" &&
    typeof value === "object" &&
    value !== null &&
    Object.hasOwn(value, "prototype")
  ) {
    return undefined;
  }
  return value;
}

/** Parses a request body; an empty body is "no body" (undefined). */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") return undefined;
  if (nestsDeeperThan(text, MAX_BODY_DEPTH)) {
    throw new InvalidArgumentError(
      `the JSON body nests objects/arrays deeper than ${MAX_BODY_DEPTH} levels (a payload may nest at most ${MAX_JSON_DEPTH}); flatten it`,
    );
  }
  try {
    const risky =
      text.includes("__proto__") || text.includes("constructor") || text.includes("\\u");
    return risky ? JSON.parse(text, inert) : JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `the request body is not valid JSON (${(error as Error).message}); send a JSON object such as {"function_key":"demo.echo","payload":{}}`,
    );
  }
}

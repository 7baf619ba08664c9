import { InvalidArgumentError } from "../../core/errors.js";

// Argument checks, run before anything is sent: a bad call rejects with a message that says what
// to change and never reaches the database.

/** Largest value, in UTF-8 bytes: sessions, schedule definitions and join results fit easily. */
export const MAX_VALUE_BYTES = 64 * 1024;
/**
 * Largest key, name or holder, in UTF-8 bytes: with the prefix it stays well inside a btree
 * index entry (about 2.7 kB on PostgreSQL).
 */
export const MAX_KEY_BYTES = 1024;
export const MAX_LIST_LIMIT = 1000;

/** PostgreSQL text cannot hold U+0000; refusing it here beats a server error later. */
function checkText(what: string, text: unknown): string {
  if (typeof text !== "string") {
    throw new InvalidArgumentError(`${what} must be a string (got ${typeof text})`);
  }
  if (text.includes("\u0000")) {
    throw new InvalidArgumentError(`${what} must not contain the character U+0000`);
  }
  return text;
}

export function checkKey(what: string, key: unknown): string {
  const text = checkText(what, key);
  if (text === "") throw new InvalidArgumentError(`${what} must not be empty`);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(
      `${what} must be at most ${MAX_KEY_BYTES} UTF-8 bytes (got ${bytes})`,
    );
  }
  return text;
}

export function checkValue(what: string, value: unknown): string {
  const text = checkText(what, value);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(
      `${what} must be at most ${MAX_VALUE_BYTES} UTF-8 bytes (got ${bytes})`,
    );
  }
  return text;
}

/** A duration in whole milliseconds, at least 1 (expiry is kept to the millisecond). */
export function checkDurationMs(what: string, ms: unknown): number {
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 1) {
    throw new InvalidArgumentError(
      `${what} must be a whole number of milliseconds >= 1 (got ${ms})`,
    );
  }
  return ms;
}

export function checkInteger(what: string, n: unknown, min: number, max: number): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `${what} must be an integer between ${min} and ${max} (got ${n})`,
    );
  }
  return n;
}

export function checkDelta(delta: unknown): number {
  if (typeof delta !== "number" || !Number.isSafeInteger(delta)) {
    throw new InvalidArgumentError(`delta must be a safe integer (got ${delta})`);
  }
  return delta;
}

/** list()'s prefix may be empty (every entry); after, when given, is any string. */
export function checkListArguments(
  prefix: unknown,
  options: unknown,
): { prefix: string; limit: number; after: string } {
  const text = checkText("list prefix", prefix);
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError("list options must be an object { limit, after? }");
  }
  const { limit, after } = options as { limit?: unknown; after?: unknown };
  return {
    prefix: text,
    limit: checkInteger("list limit", limit, 1, MAX_LIST_LIMIT),
    after: after === undefined ? "" : checkText("list after", after),
  };
}

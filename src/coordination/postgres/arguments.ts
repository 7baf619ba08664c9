import { InvalidArgumentError } from "../../core/errors.js";

// What PostgreSQL refuses on top of the checks every store applies (../arguments.ts), checked
// here too so that such a call fails with a message that says what to change, before anything
// is sent, instead of with a server error.

/** Largest value, in UTF-8 bytes: sessions, schedule definitions and join results fit easily. */
export const MAX_VALUE_BYTES = 64 * 1024;
/**
 * Largest key, name or holder, in UTF-8 bytes: with the prefix it stays well inside one btree
 * index entry (about 2.7 kB), which the primary keys need.
 */
export const MAX_KEY_BYTES = 1024;

/** PostgreSQL text cannot hold U+0000 (JSON-encoded values never contain it raw). */
export function checkText(what: string, text: string): void {
  if (text.includes("\u0000")) {
    throw new InvalidArgumentError(
      `${what} must not contain the character U+0000, which PostgreSQL text cannot hold`,
    );
  }
}

/** A key, name or holder: text that fits an index entry. */
export function checkIndexed(what: string, key: string): void {
  checkText(what, key);
  if (key.length <= MAX_KEY_BYTES / 3) return;
  const bytes = Buffer.byteLength(key, "utf8");
  if (bytes > MAX_KEY_BYTES) {
    throw new InvalidArgumentError(
      `${what} must be at most ${MAX_KEY_BYTES} bytes of UTF-8 on PostgreSQL (got ${bytes}); hash a long key`,
    );
  }
}

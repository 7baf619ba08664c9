import { createHash, randomFillSync } from "node:crypto";
import { V7Generator } from "uuidv7";
import { InvalidArgumentError } from "./errors.js";

// Task ids are UUIDv7: unique without coordination and time-ordered, so the tracking store's
// primary key doubles as a creation-time index and cursor.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

// Random words come from a pool refilled 4 KiB at a time: a getRandomValues call costs about the
// same whatever its size, and uuidv7's own small buffer made it a large share of a batch
// submission's CPU (bench/results/micro-measurements.md).
const pool = new Uint32Array(1_024);
let cursor = pool.length;
const generator = new V7Generator({
  nextUint32(): number {
    if (cursor === pool.length) {
      randomFillSync(pool);
      cursor = 0;
    }
    return pool[cursor++] as number;
  },
});

export function newTaskId(): string {
  return generator.generate().toString();
}

/**
 * A task id derived from a name and a time: UUIDv7 layout (the 48-bit millisecond timestamp is
 * `atMs`, so it sorts with the ids made at that time) with the 74 "random" bits taken from
 * SHA-256 of `name`. Every process derives the same id for the same (name, time): a scheduled
 * tick's task has one id however many schedulers submit it.
 */
export function derivedTaskId(atMs: number, name: string): string {
  const hash = createHash("sha256").update(name).digest();
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(Math.max(0, Math.min(atMs, 2 ** 48 - 1)), 0, 6);
  hash.copy(bytes, 6, 0, 10);
  bytes[6] = 0x70 | ((bytes[6] as number) & 0x0f); // version 7
  bytes[8] = 0x80 | ((bytes[8] as number) & 0x3f); // RFC 4122 variant
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function isTaskId(value: unknown): value is string {
  return typeof value === "string" && UUID.test(value);
}

export function parseTaskId(value: unknown): string {
  if (!isTaskId(value)) {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
    throw new InvalidArgumentError(
      `task id must be a lowercase UUID such as 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b (got ${shown})`,
    );
  }
  return value;
}

import { uuidv7 } from "uuidv7";
import { InvalidArgumentError } from "./errors.js";

// Task ids are UUIDv7: unique without coordination and time-ordered, so the tracking store's
// primary key doubles as a creation-time index and cursor.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function newTaskId(): string {
  return uuidv7();
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

import {
  DEAD_LETTER_REASONS,
  type DeadLetterReason,
  type DeadLetterSelector,
} from "../broker/broker.js";
import { InvalidArgumentError } from "../core/errors.js";
import { parseTaskId } from "../core/ids.js";
import { isTaskStatus, TASK_STATUSES, type TaskStatus } from "../core/status.js";
import { FUNCTION_KEY_PATTERN, QUEUE_PATTERN } from "../core/submission.js";
import { DEFAULT_MAX_BATCH_SIZE } from "../producer/producer.js";
import { SCHEDULE_METADATA_KEY } from "../schedules/schedule.js";
import { parseScheduleId } from "../schedules/validation.js";
import { MAX_LIST_LIMIT, MAX_LOG_LIMIT } from "../tracking/task-query.js";
import type { TaskQuery } from "../tracking/tracking-store.js";

// Decoders for the TaskService's `unknown` inputs (decoded at the edge). Every
// transport hands its raw values here (a REST query string gives strings, a gRPC message gives
// numbers and arrays), so both accept the same things and fail with the same messages, each
// naming the field, the rule and what was received.

/** What the API documents; the Producer (maxBatchSize) enforces it. */
export const MAX_BATCH_ITEMS = DEFAULT_MAX_BATCH_SIZE;
export const DEFAULT_DLQ_LIMIT = 100;
export const MAX_DLQ_LIMIT = 1_000;
export const MAX_DLQ_REQUEUE_IDS = 1_000;

type Fields = Record<string, unknown>;

function shown(value: unknown): string {
  const text = typeof value === "string" ? JSON.stringify(value.slice(0, 80)) : typeof value;
  return text ?? "undefined";
}

/** `input` as a plain object holding only `allowed` keys; undefined and null count as `{}`. */
export function fieldsOf(input: unknown, what: string, allowed: readonly string[]): Fields {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) {
    throw new InvalidArgumentError(`${what} must be an object (got ${shown(input)})`);
  }
  const fields = input as Fields;
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) {
      throw new InvalidArgumentError(
        `unknown ${what} field ${JSON.stringify(key.slice(0, 80))}; allowed: ${allowed.join(", ")}`,
      );
    }
  }
  return fields;
}

function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

/** An integer given as a number or as decimal digits (query strings), within [min, max]. */
export function integerOf(field: string, raw: unknown, min: number, max: number): number {
  const n = typeof raw === "string" && /^-?\d{1,16}$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min || n > max) {
    throw new InvalidArgumentError(
      `${field} must be an integer between ${min} and ${max} (got ${JSON.stringify(raw)?.slice(0, 80)})`,
    );
  }
  return n;
}

function stringOf(field: string, raw: unknown, maxLength: number): string {
  if (typeof raw !== "string" || raw.length > maxLength) {
    throw new InvalidArgumentError(
      `${field} must be a string of at most ${maxLength} characters (got ${shown(raw)})`,
    );
  }
  return raw;
}

/** Epoch ms from an ISO 8601 string, an epoch-ms number, or epoch-ms digits. */
function timeOf(field: string, raw: unknown): number {
  if (typeof raw === "number" && Number.isFinite(raw)) return raw;
  if (typeof raw === "string") {
    const ms = /^\d{1,16}$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (Number.isFinite(ms)) return ms;
  }
  throw new InvalidArgumentError(
    `${field} must be an ISO 8601 time such as 2026-11-27T12:00:00Z, or epoch milliseconds (got ${shown(raw)})`,
  );
}

/** "A,B", ["A","B"] or ["A,B"] → statuses (case-insensitive). */
function statusesOf(raw: unknown): TaskStatus[] {
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((item) =>
    typeof item === "string" ? item.split(",") : [item],
  );
  return parts.map((part) => {
    const status = typeof part === "string" ? part.trim().toUpperCase() : part;
    if (!isTaskStatus(status)) {
      throw new InvalidArgumentError(
        `status takes ${TASK_STATUSES.join(", ")}, comma-separated (got ${shown(part)})`,
      );
    }
    return status;
  });
}

export function queueNameOf(raw: unknown, field = "queue"): string {
  if (typeof raw !== "string" || !QUEUE_PATTERN.test(raw)) {
    throw new InvalidArgumentError(
      `${field} must match ^[A-Za-z0-9_.:-]{1,64}$, e.g. "default" (got ${shown(raw)})`,
    );
  }
  return raw;
}

const LIST_FIELDS = [
  "status",
  "function_key",
  "schedule",
  "queue",
  "q",
  "since",
  "until",
  "limit",
  "cursor",
] as const;

export function decodeListQuery(input: unknown): TaskQuery {
  const f = fieldsOf(input, "list query", LIST_FIELDS);
  const query: TaskQuery = {};
  if (present(f.status)) query.status = statusesOf(f.status);
  if (present(f.function_key)) {
    const key = f.function_key;
    if (typeof key !== "string" || !FUNCTION_KEY_PATTERN.test(key)) {
      throw new InvalidArgumentError(
        `function_key must match ^[A-Za-z0-9_.:-]{1,128}$ (got ${shown(key)})`,
      );
    }
    query.functionKey = key;
  }
  if (present(f.queue)) query.queue = queueNameOf(f.queue);
  // The scheduler stamps every task it submits with its schedule's id (src/schedules/).
  if (present(f.schedule)) {
    query.metadata = { key: SCHEDULE_METADATA_KEY, value: parseScheduleId(f.schedule) };
  }
  if (present(f.q)) query.text = stringOf("q", f.q, 200);
  if (present(f.since)) query.since = timeOf("since", f.since);
  if (present(f.until)) query.until = timeOf("until", f.until);
  if (present(f.limit)) query.limit = integerOf("limit", f.limit, 1, MAX_LIST_LIMIT);
  if (present(f.cursor)) query.cursor = stringOf("cursor", f.cursor, 1_000);
  return query;
}

export function decodeLogsQuery(input: unknown): { limit?: number } {
  const f = fieldsOf(input, "logs query", ["limit"]);
  return present(f.limit) ? { limit: integerOf("limit", f.limit, 1, MAX_LOG_LIMIT) } : {};
}

export function decodeRequeueOptions(input: unknown): { queue?: string } {
  const f = fieldsOf(input, "requeue options", ["queue"]);
  return present(f.queue) ? { queue: queueNameOf(f.queue) } : {};
}

function reasonOf(raw: unknown): DeadLetterReason {
  if (typeof raw !== "string" || !(DEAD_LETTER_REASONS as readonly string[]).includes(raw)) {
    throw new InvalidArgumentError(
      `reason must be one of ${DEAD_LETTER_REASONS.join(", ")} (got ${shown(raw)})`,
    );
  }
  return raw as DeadLetterReason;
}

export interface DeadLetterQuery {
  limit: number;
  cursor?: string;
  reason?: DeadLetterReason;
}

export function decodeDeadLetterQuery(input: unknown): DeadLetterQuery {
  const f = fieldsOf(input, "dead-letter query", ["limit", "cursor", "reason"]);
  return {
    limit: present(f.limit) ? integerOf("limit", f.limit, 1, MAX_DLQ_LIMIT) : DEFAULT_DLQ_LIMIT,
    ...(present(f.cursor) ? { cursor: stringOf("cursor", f.cursor, 1_000) } : {}),
    ...(present(f.reason) ? { reason: reasonOf(f.reason) } : {}),
  };
}

const SELECTOR_HINT =
  'say which entries to requeue with exactly one of {"ids":[…]}, {"reason":"retries_exhausted"} or {"all":true}';

export function decodeSelector(input: unknown): DeadLetterSelector {
  const f = fieldsOf(input, "dead-letter selector", ["ids", "reason", "all"]);
  const given = ["ids", "reason", "all"].filter((k) => f[k] !== undefined && f[k] !== null);
  if (given.length !== 1) throw new InvalidArgumentError(SELECTOR_HINT);
  if (f.all !== undefined && f.all !== null) {
    if (f.all !== true) throw new InvalidArgumentError(`all must be true; ${SELECTOR_HINT}`);
    return { all: true };
  }
  if (f.reason !== undefined && f.reason !== null) return { reason: reasonOf(f.reason) };
  const ids = f.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_DLQ_REQUEUE_IDS) {
    throw new InvalidArgumentError(
      `ids must be an array of 1 to ${MAX_DLQ_REQUEUE_IDS} task ids (got ${Array.isArray(ids) ? `${ids.length} ids` : shown(ids)})`,
    );
  }
  return { ids: ids.map((id) => parseTaskId(id)) };
}

/**
 * `{tasks:[…]}` → the items, unchecked: the Producer checks the list (an array of 1 to 1000) and
 * each item, so a request is validated in one place.
 */
export function decodeBatch(input: unknown): readonly unknown[] {
  if (Array.isArray(input)) {
    throw new InvalidArgumentError(
      'a batch must be an object {"tasks":[…]} (got an array); wrap the tasks in {"tasks": …}',
    );
  }
  return fieldsOf(input, "batch", ["tasks"]).tasks as readonly unknown[];
}

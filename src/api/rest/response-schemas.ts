import { DEAD_LETTER_REASONS } from "../../broker/broker.js";
import { TASK_STATUSES } from "../../core/status.js";
import { type Schema, taskIdSchema } from "./schemas.js";

// The response schemas of the REST API: Fastify serializes with them (fast-json-stringify, which
// also drops any field not listed, so nothing internal leaks) and the OpenAPI document shows
// them. Wire names are snake_case, like submissions; times are ISO 8601 strings.

const str: Schema = { type: "string" };
const int: Schema = { type: "integer" };
const nullable = (type: string): Schema => ({ type: [type, "null"] });
const iso: Schema = { type: "string", format: "date-time" };
const nullableIso: Schema = { type: ["string", "null"], format: "date-time" };
const anyJson: Schema = { description: "Any JSON." };

const object = (title: string, properties: Record<string, Schema>, required: string[]): Schema => ({
  title,
  type: "object",
  properties,
  required,
});

export const submittedTaskSchema = object(
  "SubmittedTask",
  {
    id: taskIdSchema,
    status: { type: "string", enum: ["PENDING"] },
    function_key: str,
    queue: str,
    priority: int,
    run: int,
    attempt: int,
    created_at: iso,
    run_at: { ...iso, description: "Present for delayed tasks: when it becomes due." },
    duplicate: {
      type: "boolean",
      description:
        "True (HTTP 200) when nothing was enqueued because this is a duplicate: the same idempotency_key with the same submission, or a unique key another task holds; id is that task's.",
    },
  },
  [
    "id",
    "status",
    "function_key",
    "queue",
    "priority",
    "run",
    "attempt",
    "created_at",
    "duplicate",
  ],
);

export const batchResultSchema = object(
  "TaskBatchResults",
  {
    results: {
      type: "array",
      description: "One per submitted item, in order: {id,status} when accepted, else {error}.",
      items: {
        type: "object",
        properties: {
          id: taskIdSchema,
          status: { type: "string", enum: ["PENDING"] },
          duplicate: {
            type: "boolean",
            description: "With id: true when the item was a duplicate and nothing was enqueued.",
          },
          error: object(
            "ItemError",
            {
              code: { type: "string", description: "GoTaskQ error code, e.g. invalid_argument." },
              message: { type: "string", description: "Names the field and what to change." },
              index: {
                type: "integer",
                minimum: 0,
                description: "The item's position in the request's tasks, from 0.",
              },
            },
            ["code", "message", "index"],
          ),
        },
      },
    },
  },
  ["results"],
);

const taskErrorSchema: Schema = {
  type: ["object", "null"],
  properties: { message: str, type: str, stack: str },
  description: "The last failure; null when none or once SUCCESS.",
};

export const taskRecordSchema = object(
  "TaskRecord",
  {
    id: taskIdSchema,
    status: { type: "string", enum: [...TASK_STATUSES] },
    function_key: nullable("string"),
    queue: nullable("string"),
    priority: nullable("integer"),
    payload: anyJson,
    run: { type: "integer", description: "Requeue counter (0 = first run)." },
    attempt: { type: "integer", description: "Retry counter within the run." },
    max_retries: nullable("integer"),
    timeout_ms: nullable("integer"),
    metadata: { type: "object", additionalProperties: str },
    idempotency_key: nullable("string"),
    created_at: nullableIso,
    started_at: nullableIso,
    completed_at: nullableIso,
    duration_ms: nullable("integer"),
    run_at: nullableIso,
    result: anyJson,
    error: taskErrorSchema,
    worker_id: nullable("string"),
    delivery_count: nullable("integer"),
    dead_letter_reason: nullable("string"),
    updated_at: iso,
  },
  ["id", "status", "run", "attempt", "metadata", "updated_at"],
);

export const taskPageSchema = object(
  "TaskPage",
  {
    tasks: { type: "array", items: taskRecordSchema },
    next_cursor: { type: "string", description: "Absent on the last page." },
  },
  ["tasks"],
);

export const logLinesSchema = object(
  "TaskLogLines",
  {
    lines: {
      type: "array",
      items: object(
        "TaskLogLine",
        {
          attempt: int,
          at: iso,
          level: { type: "string", enum: ["debug", "info", "warn", "error"] },
          message: str,
        },
        ["attempt", "at", "level", "message"],
      ),
    },
  },
  ["lines"],
);

export const cancelAnswerSchema = object(
  "CancelRequested",
  { id: taskIdSchema, status: { type: "string", enum: ["CANCEL_REQUESTED"] } },
  ["id", "status"],
);

export const requeuedTaskSchema = object(
  "RequeuedTask",
  {
    id: taskIdSchema,
    status: { type: "string", enum: ["PENDING"] },
    queue: str,
    run: { type: "integer", description: "The run this requeue started." },
    source: { type: "string", enum: ["dead_letter_queue", "tracking"] },
  },
  ["id", "status", "queue", "run", "source"],
);

export const queuesSchema = object(
  "QueueList",
  {
    queues: {
      type: "array",
      items: object(
        "QueueStats",
        { queue: str, ready: int, in_flight: int, delayed: int, dead_lettered: int },
        ["queue", "ready", "in_flight", "delayed", "dead_lettered"],
      ),
    },
  },
  ["queues"],
);

export const deadLetterPageSchema = object(
  "DeadLetterPage",
  {
    entries: {
      type: "array",
      items: object(
        "DeadLetterEntry",
        {
          id: str,
          queue: str,
          reason: { type: "string", enum: [...DEAD_LETTER_REASONS] },
          detail: str,
          dead_lettered_at: iso,
          function_key: str,
          attempt: int,
          run: int,
          payload: anyJson,
          body: { type: "string", description: "Start of an undecodable body." },
        },
        ["id", "queue", "reason", "detail", "dead_lettered_at"],
      ),
    },
    next_cursor: { type: "string", description: "Absent on the last page." },
  },
  ["entries"],
);

export const deadLetterRequeueSchema = object(
  "DeadLetterRequeued",
  { requeued: { type: "array", items: requeuedTaskSchema } },
  ["requeued"],
);

export const workersSchema = object(
  "WorkerList",
  {
    workers: {
      type: "array",
      items: object(
        "Worker",
        {
          worker_id: str,
          host: str,
          pid: int,
          queues: { type: "array", items: str },
          concurrency: int,
          running: int,
          functions: { type: "array", items: str },
          version: str,
          started_at: iso,
          seen_at: iso,
          stopped_at: { ...iso, description: "Set once the worker shut down cleanly." },
        },
        ["worker_id", "host", "pid", "queues", "concurrency", "running", "functions", "seen_at"],
      ),
    },
  },
  ["workers"],
);

export const functionsSchema = object(
  "FunctionList",
  {
    functions: {
      type: "array",
      items: object(
        "FunctionInfo",
        {
          key: str,
          queue: str,
          description: str,
          payload_schema: {
            description: "The payload's JSON Schema, when the function declares one.",
          },
          schema: { description: "Same as payload_schema (kept for clients of the first API)." },
          priority: int,
          timeout_ms: int,
          max_retries: int,
        },
        ["key"],
      ),
    },
  },
  ["functions"],
);

export const healthSchema = object("Health", { status: { type: "string" } }, ["status"]);

export const problemSchema = object(
  "Problem",
  {
    type: { type: "string", description: "urn:gotaskq:problem:<code>" },
    title: str,
    status: int,
    detail: { type: "string", description: "What went wrong and what to change." },
    code: { type: "string", description: "GoTaskQ error code, e.g. invalid_argument." },
    instance: { type: "string", description: "The request path." },
  },
  ["type", "title", "status", "detail"],
);

const scheduleProperties: Record<string, Schema> = {
  id: str,
  function_key: str,
  cron: { type: "string", description: "Cron expression (5 fields, or 6 with seconds first)." },
  timezone: { type: "string", description: "IANA time zone of the cron expression." },
  every: {
    type: "string",
    description: 'Interval, e.g. "30s": ticks on multiples of it since the epoch.',
  },
  payload: anyJson,
  queue: str,
  priority: int,
  timeout_ms: int,
  max_retries: int,
  backoff: { description: "Backoff policy of the scheduled tasks." },
  metadata: { type: "object", additionalProperties: { type: "string" } },
  missed: { type: "string", enum: ["skip", "catch_up"] },
  catch_up_max: int,
  overlap: { type: "string", enum: ["allow", "skip_if_running"] },
  paused: { type: "boolean" },
  source: {
    type: "string",
    enum: ["module", "api"],
    description: "Declared by a task module, or created through the API / CLI.",
  },
  created_at: iso,
  updated_at: iso,
  next_runs: { type: "array", items: iso, description: "The next ticks (none while paused)." },
  last_tick: { ...iso, description: "The latest tick a scheduler submitted." },
  last_task_id: { ...taskIdSchema, description: "The task of the latest tick or trigger." },
  last_outcome: {
    type: "string",
    enum: ["submitted", "skipped_overlap", "failed"],
    description:
      "What the latest tick did: submitted, skipped (overlap: skip_if_running and the previous task still ran), or failed (to be retried).",
  },
  last_status: {
    type: "string",
    enum: [...TASK_STATUSES],
    description: "The tracked status of last_task_id, when known.",
  },
  last_error: str,
  last_at: iso,
};

export const scheduleSchema = object("Schedule", scheduleProperties, [
  "id",
  "function_key",
  "payload",
  "missed",
  "catch_up_max",
  "overlap",
  "paused",
  "source",
  "created_at",
  "updated_at",
  "next_runs",
]);

export const scheduleListSchema = object(
  "ScheduleList",
  { schedules: { type: "array", items: scheduleSchema } },
  ["schedules"],
);

export const scheduleRemovedSchema = object(
  "ScheduleRemoved",
  { id: str, removed: { type: "boolean", enum: [true] } },
  ["id", "removed"],
);

import { DEAD_LETTER_REASONS } from "../../broker/broker.js";
import { TASK_STATUSES } from "../../core/status.js";
import {
  FUNCTION_KEY_PATTERN,
  QUEUE_PATTERN,
  submissionJsonSchema,
} from "../../core/submission-fields.js";
import { MAX_LIST_LIMIT, MAX_LOG_LIMIT } from "../../tracking/task-query.js";
import { MAX_BATCH_ITEMS, MAX_DLQ_LIMIT, MAX_DLQ_REQUEUE_IDS } from "../service-input.js";

// The request schemas of the REST API. Fastify validates query strings, path parameters and the
// small bodies with them (validation.ts); a task submission and a batch are only documented here
// (the Producer is their one validator, from core's field table, which also writes their schema).
// The OpenAPI document (openapi.ts) is generated from these very objects, so it cannot drift from
// what the server checks. Response schemas are in response-schemas.ts.

export type Schema = Record<string, unknown>;

const int = (minimum: number, maximum: number, description: string): Schema => ({
  type: "integer",
  minimum,
  maximum,
  description,
});

export const taskIdSchema: Schema = {
  type: "string",
  format: "uuid",
  description: "Task id: a lowercase UUIDv7 assigned at submission.",
  examples: ["0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"],
};

export const queueNameSchema: Schema = {
  type: "string",
  pattern: QUEUE_PATTERN.source,
  examples: ["default"],
};

export const functionKeySchema: Schema = {
  type: "string",
  pattern: FUNCTION_KEY_PATTERN.source,
  examples: ["demo.echo"],
};

/**
 * A submission (POST /v1/tasks, and each item of a batch), written by core from the same field
 * table its validator reads. Documentation only: the Producer validates the body.
 */
export const taskSubmissionSchema: Schema = {
  title: "TaskSubmission",
  ...submissionJsonSchema(),
  examples: [{ function_key: "demo.echo", payload: { hello: "world" } }],
};

/** The batch body as documented; the Producer checks the list and each item on its own. */
export const batchBodySchema: Schema = {
  title: "TaskBatch",
  type: "object",
  required: ["tasks"],
  additionalProperties: false,
  properties: {
    tasks: {
      type: "array",
      minItems: 1,
      maxItems: MAX_BATCH_ITEMS,
      items: taskSubmissionSchema,
      description: `1 to ${MAX_BATCH_ITEMS} TaskSubmission objects; each is validated and answered on its own.`,
    },
  },
};

export const idParamsSchema: Schema = {
  type: "object",
  required: ["id"],
  additionalProperties: false,
  properties: { id: taskIdSchema },
};

export const queueParamsSchema: Schema = {
  type: "object",
  required: ["queue"],
  additionalProperties: false,
  properties: { queue: queueNameSchema },
};

const timeParam = (what: string): Schema => ({
  type: "string",
  description: `${what}: ISO 8601 (2026-11-27T12:00:00Z) or epoch milliseconds.`,
});

export const listQuerySchema: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: {
      type: "array",
      items: { type: "string" },
      description: `Only these statuses (${TASK_STATUSES.join(", ")}): comma-separated or repeated.`,
    },
    function_key: functionKeySchema,
    queue: queueNameSchema,
    schedule: {
      type: "string",
      maxLength: 128,
      description: "Only the tasks this schedule submitted (their metadata gotaskq.schedule).",
    },
    q: {
      type: "string",
      maxLength: 200,
      description: "Case-insensitive substring of the id, function key or error message.",
    },
    since: timeParam("Created at or after"),
    until: timeParam("Created before"),
    limit: int(1, MAX_LIST_LIMIT, `Page size (default 50, at most ${MAX_LIST_LIMIT}).`),
    cursor: { type: "string", maxLength: 1000, description: "next_cursor of the previous page." },
  },
};

export const logsQuerySchema: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    limit: int(1, MAX_LOG_LIMIT, "The most recent N lines (default 1000)."),
  },
};

export const requeueBodySchema: Schema = {
  title: "RequeueOptions",
  type: ["object", "null"],
  additionalProperties: false,
  properties: {
    queue: { ...queueNameSchema, description: "Only look in this queue's DLQ." },
  },
};

export const deadLetterQuerySchema: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    reason: { type: "string", enum: [...DEAD_LETTER_REASONS] },
    limit: int(1, MAX_DLQ_LIMIT, "Page size (default 100)."),
    cursor: { type: "string", maxLength: 1000, description: "next_cursor of the previous page." },
  },
};

export const deadLetterSelectorSchema: Schema = {
  title: "DeadLetterSelector",
  description:
    'say which entries to requeue with exactly one of {"ids":[…]}, {"reason":"retries_exhausted"} or {"all":true}',
  type: "object",
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    ids: { type: "array", minItems: 1, maxItems: MAX_DLQ_REQUEUE_IDS, items: taskIdSchema },
    reason: { type: "string", enum: [...DEAD_LETTER_REASONS] },
    all: { type: "boolean", const: true },
  },
};

import { DEAD_LETTER_REASONS } from "../../broker/broker.js";
import { MAX_DELAY_MS } from "../../core/backoff.js";
import { MAX_JSON_DEPTH } from "../../core/json-guard.js";
import { TASK_STATUSES } from "../../core/status.js";
import {
  FUNCTION_KEY_PATTERN,
  MAX_PRIORITY,
  MAX_RETRIES_LIMIT,
  MAX_TIMEOUT_MS,
  QUEUE_PATTERN,
} from "../../core/submission.js";
import { MAX_LIST_LIMIT, MAX_LOG_LIMIT } from "../../tracking/task-query.js";
import { MAX_BATCH_ITEMS, MAX_DLQ_LIMIT, MAX_DLQ_REQUEUE_IDS } from "../service-input.js";

// The request schemas of the REST API: Fastify validates with them (validation.ts) and the
// OpenAPI document (openapi.ts) is generated from these very objects, so the two cannot drift.
// Rules mirror core/submission.ts (built from its constants); the TaskService validates again,
// which is what batch items rely on: a batch body only checks its envelope, so one bad item
// gets its own error instead of failing the request. Optional fields accept null as "absent",
// as the service does. Response schemas are in response-schemas.ts.

export type Schema = Record<string, unknown>;

/** `schema` that also accepts null (meaning: not given). */
function orNull(schema: Schema): Schema {
  return { ...schema, type: [schema.type, "null"] };
}

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

const backoffSchema: Schema = {
  type: "object",
  description:
    'Retry delays: {"type":"exponential","base_ms","max_ms"} (full jitter) or {"type":"fixed","delay_ms"}.',
  required: ["type"],
  additionalProperties: false,
  properties: {
    type: { type: "string", enum: ["exponential", "fixed"] },
    base_ms: int(0, MAX_DELAY_MS, "Exponential: first delay ceiling (ms)."),
    max_ms: int(0, MAX_DELAY_MS, "Exponential: largest delay (ms)."),
    delay_ms: int(0, MAX_DELAY_MS, "Fixed: delay between attempts (ms)."),
  },
};

export const taskSubmissionSchema: Schema = {
  title: "TaskSubmission",
  type: "object",
  required: ["function_key"],
  additionalProperties: false,
  properties: {
    function_key: { ...functionKeySchema, description: "The registered function to run." },
    payload: { description: `Any JSON (default {}), nested at most ${MAX_JSON_DEPTH} levels.` },
    queue: orNull({ ...queueNameSchema, description: 'Queue (default "default").' }),
    priority: orNull(int(0, MAX_PRIORITY, "Higher runs first (default 5).")),
    timeout_ms: orNull(int(1, MAX_TIMEOUT_MS, "Per-attempt timeout (ms).")),
    max_retries: orNull(int(0, MAX_RETRIES_LIMIT, "Retries after the first attempt.")),
    backoff: orNull(backoffSchema),
    delay_ms: orNull(int(0, MAX_DELAY_MS, "Run no earlier than this many ms from now.")),
    run_at: orNull({
      type: "string",
      format: "date-time",
      description: "Run no earlier than this instant (instead of delay_ms).",
    }),
    idempotency_key: orNull({ type: "string", minLength: 1, maxLength: 200 }),
    metadata: orNull({
      type: "object",
      maxProperties: 32,
      additionalProperties: { type: "string", maxLength: 1024 },
      description: "String map carried with the task (tenant, trace ids).",
    }),
  },
  examples: [{ function_key: "demo.echo", payload: { hello: "world" } }],
};

/** What Fastify checks of a batch body: the envelope only (items are checked one by one). */
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
      items: {},
      description: `1 to ${MAX_BATCH_ITEMS} TaskSubmission objects; each is validated and answered on its own.`,
    },
  },
};

/** The batch body as documented: same envelope, items described as TaskSubmission. */
export const batchBodyDocSchema: Schema = {
  ...batchBodySchema,
  properties: {
    tasks: {
      ...(batchBodySchema.properties as { tasks: Schema }).tasks,
      items: taskSubmissionSchema,
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

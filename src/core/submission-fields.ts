import { type BackoffPolicy, MAX_DELAY_MS, parseBackoff } from "./backoff.js";
import { InvalidArgumentError } from "./errors.js";
import { assertJsonDepth, MAX_JSON_DEPTH } from "./json-guard.js";
import {
  parseUniqueTemplate,
  UNIQUE_UNTIL,
  type UniqueOption,
  type UniqueUntil,
} from "./submission-identity.js";

// The fields of a task submission, described once as data: the validator (submission.ts) checks
// each field by its row, and `submissionJsonSchema` writes the same rows as the JSON Schema the
// REST API documents, so the rule a caller reads and the rule the code applies cannot drift.
// A `nullable` field takes null as "not given" (what a JSON client sends for an unset option).

export const FUNCTION_KEY_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
export const QUEUE_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;
export const DEFAULT_QUEUE = "default";
export const DEFAULT_PRIORITY = 5;
export const MAX_PRIORITY = 9;
export const MAX_RETRIES_LIMIT = 100;
/** One day: long tasks beyond this belong in several tasks (and SQS caps visibility at 12 h). */
export const MAX_TIMEOUT_MS = 86_400_000;
/** An instant with a time zone, as RFC 3339 `date-time` (JSON Schema's format) spells it. */
/** How long an idempotency key answers with its first task: 24 h by default, 1 s to 30 days. */
export const DEFAULT_IDEMPOTENCY_TTL_MS = 86_400_000;
export const MIN_IDEMPOTENCY_TTL_MS = 1_000;
export const MAX_IDEMPOTENCY_TTL_MS = 30 * 86_400_000;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;
/** How long a unique key is held when no worker releases it: 24 h by default, 1 s to 31 days. */
export const DEFAULT_UNIQUE_TTL_MS = 86_400_000;
export const MIN_UNIQUE_TTL_MS = 1_000;
export const MAX_UNIQUE_TTL_MS = 31 * 86_400_000;
export const MAX_UNIQUE_TEMPLATE_LENGTH = 512;
export const ISO_INSTANT_PATTERN =
  /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

interface Described {
  description: string;
  nullable?: true;
}

export type SubmissionField = Described &
  (
    | { kind: "integer"; min: number; max: number; default?: number }
    | {
        kind: "string";
        required?: true;
        pattern?: RegExp;
        minLength?: number;
        maxLength?: number;
        default?: string;
        example?: string;
      }
    | { kind: "json"; maxDepth: number }
    | { kind: "backoff" }
    | { kind: "instant" }
    | { kind: "string_map"; maxEntries: number; maxKeyLength: number; maxValueLength: number }
    | { kind: "unique" }
  );

/** What each kind of field holds once checked. */
interface KindValue {
  integer: number;
  string: string;
  json: unknown;
  backoff: BackoffPolicy;
  /** Epoch milliseconds. */
  instant: number;
  string_map: Record<string, string>;
  unique: UniqueOption;
}

export const SUBMISSION_FIELDS = {
  function_key: {
    kind: "string",
    required: true,
    pattern: FUNCTION_KEY_PATTERN,
    example: "email.send",
    description: "The registered function to run.",
  },
  payload: {
    kind: "json",
    maxDepth: MAX_JSON_DEPTH,
    description: `Any JSON (default {}), nested at most ${MAX_JSON_DEPTH} levels, within the server's payload limit (default 1 MiB, JSON-encoded).`,
  },
  queue: {
    kind: "string",
    nullable: true,
    pattern: QUEUE_PATTERN,
    default: DEFAULT_QUEUE,
    description: `Queue (default "${DEFAULT_QUEUE}", or the function's own queue).`,
  },
  priority: {
    kind: "integer",
    nullable: true,
    min: 0,
    max: MAX_PRIORITY,
    default: DEFAULT_PRIORITY,
    description: `Higher runs first (default ${DEFAULT_PRIORITY}).`,
  },
  timeout_ms: {
    kind: "integer",
    nullable: true,
    min: 1,
    max: MAX_TIMEOUT_MS,
    description: "Per-attempt timeout (ms; default: the function's, else the worker's).",
  },
  max_retries: {
    kind: "integer",
    nullable: true,
    min: 0,
    max: MAX_RETRIES_LIMIT,
    description: "Retries after the first attempt (default: the function's, else the worker's).",
  },
  backoff: {
    kind: "backoff",
    nullable: true,
    description:
      'Retry delays: {"type":"exponential","base_ms","max_ms"} (full jitter) or {"type":"fixed","delay_ms"}.',
  },
  delay_ms: {
    kind: "integer",
    nullable: true,
    min: 0,
    max: MAX_DELAY_MS,
    description: "Run no earlier than this many ms from now (default 0).",
  },
  run_at: {
    kind: "instant",
    nullable: true,
    description: `Run no earlier than this instant, within ${MAX_DELAY_MS / 86_400_000} days (instead of delay_ms).`,
  },
  idempotency_key: {
    kind: "string",
    nullable: true,
    minLength: 1,
    maxLength: MAX_IDEMPOTENCY_KEY_LENGTH,
    description: `Makes the submission idempotent (1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters): within idempotency_ttl_ms, the same key with the same submission answers the first task's id, marked duplicate, and enqueues nothing; with a different submission it is refused (409 idempotency_key_reused). Needs the coordination store.`,
  },
  idempotency_ttl_ms: {
    kind: "integer",
    nullable: true,
    min: MIN_IDEMPOTENCY_TTL_MS,
    max: MAX_IDEMPOTENCY_TTL_MS,
    default: DEFAULT_IDEMPOTENCY_TTL_MS,
    description: `How long idempotency_key is remembered (ignored without one; ms, ${MIN_IDEMPOTENCY_TTL_MS} to ${MAX_IDEMPOTENCY_TTL_MS}; default ${DEFAULT_IDEMPOTENCY_TTL_MS}, 24 h).`,
  },
  unique: {
    kind: "unique",
    nullable: true,
    description: `At most one task per key while one is queued ("until":"started", the default) or until it ends ("finished"): another submission with the key answers the existing task's id, marked duplicate. "key" is a template over payload and metadata, e.g. "{{payload.user_id}}" (default: the whole payload); "ttl_ms" bounds how long the key is held (${MIN_UNIQUE_TTL_MS} to ${MAX_UNIQUE_TTL_MS}; default ${DEFAULT_UNIQUE_TTL_MS}). Needs the coordination store.`,
  },
  metadata: {
    kind: "string_map",
    nullable: true,
    maxEntries: 32,
    maxKeyLength: 64,
    maxValueLength: 1024,
    description: "String map carried with the task (tenant, trace ids).",
  },
} as const satisfies Record<string, SubmissionField>;

export type SubmissionFieldName = keyof typeof SUBMISSION_FIELDS;

/** Every field's checked value; absent when the submission did not give it. */
export type CheckedFields = {
  -readonly [K in SubmissionFieldName]?: KindValue[(typeof SUBMISSION_FIELDS)[K]["kind"]];
};

const BACKOFF_FIELDS = ["type", "base_ms", "max_ms", "delay_ms"];
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function got(raw: unknown): string {
  return JSON.stringify(raw)?.slice(0, 140) ?? "nothing";
}

function checkString(
  name: string,
  spec: Extract<SubmissionField, { kind: "string" }>,
  raw: unknown,
): string {
  const { pattern, minLength = 0, maxLength = Number.POSITIVE_INFINITY } = spec;
  if (pattern && !(typeof raw === "string" && pattern.test(raw))) {
    throw new InvalidArgumentError(`${name} must match ${pattern.source} (got ${got(raw)})`);
  }
  if (typeof raw !== "string" || raw.length < minLength || raw.length > maxLength) {
    throw new InvalidArgumentError(
      `${name} must be a string of ${minLength} to ${maxLength} characters (got ${got(raw)})`,
    );
  }
  return raw;
}

function checkBackoff(name: string, raw: unknown): BackoffPolicy {
  if (typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const unknown = Object.keys(raw).find((key) => !BACKOFF_FIELDS.includes(key));
    if (unknown !== undefined) {
      throw new InvalidArgumentError(
        `unknown field ${got(unknown)} in ${name}; allowed fields: ${BACKOFF_FIELDS.join(", ")}`,
      );
    }
  }
  return parseBackoff(raw, name);
}

function checkInstant(name: string, raw: unknown): number {
  const at =
    typeof raw === "string" && ISO_INSTANT_PATTERN.test(raw) ? Date.parse(raw) : Number.NaN;
  if (!Number.isFinite(at)) {
    throw new InvalidArgumentError(
      `${name} must be an ISO 8601 instant such as 2026-12-01T09:00:00Z (got ${got(raw)})`,
    );
  }
  return at;
}

function checkStringMap(
  name: string,
  spec: Extract<SubmissionField, { kind: "string_map" }>,
  raw: unknown,
): Record<string, string> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(`${name} must be an object of strings, e.g. {"tenant":"acme"}`);
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  if (entries.length > spec.maxEntries) {
    throw new InvalidArgumentError(
      `${name} may hold at most ${spec.maxEntries} keys (got ${entries.length})`,
    );
  }
  const out: Record<string, string> = Object.create(null);
  for (const [key, value] of entries) {
    if (key.length > spec.maxKeyLength || FORBIDDEN_KEYS.has(key)) {
      throw new InvalidArgumentError(
        `${name} key ${JSON.stringify(key.slice(0, 80))} is not allowed (at most ${spec.maxKeyLength} characters, not __proto__/constructor/prototype)`,
      );
    }
    if (typeof value !== "string" || value.length > spec.maxValueLength) {
      throw new InvalidArgumentError(
        `${name}.${key} must be a string of at most ${spec.maxValueLength} characters`,
      );
    }
    out[key] = value;
  }
  return { ...out };
}

const UNIQUE_FIELDS = ["key", "until", "ttl_ms"];

/** `{key?, until?, ttl_ms?}` with defaults applied; the template's syntax is checked here. */
export function checkUnique(name: string, raw: unknown): UniqueOption {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidArgumentError(
      `${name} must be an object such as {"key":"{{payload.user_id}}","until":"started"} (got ${got(raw)})`,
    );
  }
  const given = raw as Record<string, unknown>;
  const unknown = Object.keys(given).find((key) => !UNIQUE_FIELDS.includes(key));
  if (unknown !== undefined) {
    throw new InvalidArgumentError(
      `unknown field ${got(unknown.slice(0, 80))} in ${name}; allowed fields: ${UNIQUE_FIELDS.join(", ")}`,
    );
  }
  const { key, until = "started", ttl_ms = DEFAULT_UNIQUE_TTL_MS } = given;
  if (!UNIQUE_UNTIL.includes(until as UniqueUntil)) {
    throw new InvalidArgumentError(
      `${name}.until must be "started" or "finished" (got ${got(until)})`,
    );
  }
  if (
    typeof ttl_ms !== "number" ||
    !Number.isInteger(ttl_ms) ||
    ttl_ms < MIN_UNIQUE_TTL_MS ||
    ttl_ms > MAX_UNIQUE_TTL_MS
  ) {
    throw new InvalidArgumentError(
      `${name}.ttl_ms must be an integer between ${MIN_UNIQUE_TTL_MS} and ${MAX_UNIQUE_TTL_MS} (got ${got(ttl_ms)})`,
    );
  }
  if (key === undefined || key === null) return { until: until as UniqueUntil, ttl_ms };
  if (typeof key !== "string" || key.length === 0 || key.length > MAX_UNIQUE_TEMPLATE_LENGTH) {
    throw new InvalidArgumentError(
      `${name}.key must be a template string of 1 to ${MAX_UNIQUE_TEMPLATE_LENGTH} characters, e.g. "{{payload.user_id}}" (got ${got(key)})`,
    );
  }
  parseUniqueTemplate(key, `${name}.key`);
  return { key, until: until as UniqueUntil, ttl_ms };
}

function checkField(name: string, spec: SubmissionField, raw: unknown): unknown {
  switch (spec.kind) {
    case "integer":
      if (typeof raw !== "number" || !Number.isInteger(raw) || raw < spec.min || raw > spec.max) {
        throw new InvalidArgumentError(
          `${name} must be an integer between ${spec.min} and ${spec.max} (got ${got(raw)})`,
        );
      }
      return raw;
    case "string":
      return checkString(name, spec, raw);
    case "json":
      assertJsonDepth(raw, name, spec.maxDepth);
      return raw;
    case "backoff":
      return checkBackoff(name, raw);
    case "instant":
      return checkInstant(name, raw);
    case "string_map":
      return checkStringMap(name, spec, raw);
    case "unique":
      return checkUnique(name, raw);
  }
}

/**
 * Checks every field of `input` by its row: refuses unknown fields and missing required ones,
 * skips absent ones (undefined, or null where nullable). Throws InvalidArgumentError naming the
 * field, the rule and the value received. Cross-field rules are the caller's.
 */
export function checkFields(input: Record<string, unknown>): CheckedFields {
  const names = Object.keys(SUBMISSION_FIELDS);
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(SUBMISSION_FIELDS, key)) {
      throw new InvalidArgumentError(
        `unknown field ${got(key.slice(0, 80))}; allowed fields: ${names.join(", ")}`,
      );
    }
  }
  const checked: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(SUBMISSION_FIELDS) as Array<
    [SubmissionFieldName, SubmissionField]
  >) {
    const raw = input[name];
    const absent = raw === undefined || (raw === null && spec.nullable === true);
    if (absent) {
      if (spec.kind === "string" && spec.required) {
        const example = spec.example === undefined ? "" : `, e.g. ${got(spec.example)}`;
        throw new InvalidArgumentError(`${name} is required${example}`);
      }
      continue;
    }
    checked[name] = checkField(name, spec, raw);
  }
  return checked as CheckedFields;
}

type Schema = Record<string, unknown>;

const delayMs = (description: string): Schema => ({
  type: "integer",
  minimum: 0,
  maximum: MAX_DELAY_MS,
  description,
});

function fieldSchema(spec: SubmissionField): Schema {
  switch (spec.kind) {
    case "integer":
      return {
        type: "integer",
        minimum: spec.min,
        maximum: spec.max,
        ...(spec.default !== undefined ? { default: spec.default } : {}),
      };
    case "string":
      return {
        type: "string",
        ...(spec.pattern ? { pattern: spec.pattern.source } : {}),
        ...(spec.minLength !== undefined ? { minLength: spec.minLength } : {}),
        ...(spec.maxLength !== undefined ? { maxLength: spec.maxLength } : {}),
        ...(spec.default !== undefined ? { default: spec.default } : {}),
        ...(spec.example !== undefined ? { examples: [spec.example] } : {}),
      };
    case "json":
      return {};
    case "backoff":
      return {
        type: "object",
        required: ["type"],
        additionalProperties: false,
        properties: {
          type: { type: "string", enum: ["exponential", "fixed"] },
          base_ms: delayMs("Exponential: first delay ceiling (ms)."),
          max_ms: delayMs("Exponential: largest delay (ms)."),
          delay_ms: delayMs("Fixed: delay between attempts (ms)."),
        },
      };
    case "instant":
      return { type: "string", format: "date-time" };
    case "string_map":
      return {
        type: "object",
        maxProperties: spec.maxEntries,
        propertyNames: { maxLength: spec.maxKeyLength, not: { enum: [...FORBIDDEN_KEYS] } },
        additionalProperties: { type: "string", maxLength: spec.maxValueLength },
      };
    case "unique":
      return {
        type: "object",
        additionalProperties: false,
        properties: {
          key: {
            type: "string",
            minLength: 1,
            maxLength: MAX_UNIQUE_TEMPLATE_LENGTH,
            description:
              "Template over payload and metadata: {{payload.a.b}}, {{metadata.tenant}}; a path the submission lacks is refused (400).",
            examples: ["{{payload.user_id}}", "{{metadata.tenant}}:{{payload.report}}"],
          },
          until: { type: "string", enum: [...UNIQUE_UNTIL], default: "started" },
          ttl_ms: {
            type: "integer",
            minimum: MIN_UNIQUE_TTL_MS,
            maximum: MAX_UNIQUE_TTL_MS,
            default: DEFAULT_UNIQUE_TTL_MS,
          },
        },
      };
  }
}

/** The JSON Schema (2020-12) of a submission, written from the same rows the validator reads. */
export function submissionJsonSchema(): Schema {
  const properties: Record<string, Schema> = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(SUBMISSION_FIELDS) as Array<
    [string, SubmissionField]
  >) {
    const schema = fieldSchema(spec);
    if (spec.nullable && typeof schema.type === "string") schema.type = [schema.type, "null"];
    properties[name] = { ...schema, description: spec.description };
    if (spec.kind === "string" && spec.required) required.push(name);
  }
  return { type: "object", required, additionalProperties: false, properties };
}

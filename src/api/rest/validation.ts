import { Ajv, type ErrorObject } from "ajv";
import type { FastifySchemaCompiler } from "fastify";
import { InvalidArgumentError } from "../../core/errors.js";
import { isTaskId } from "../../core/ids.js";
import { ISO_INSTANT_PATTERN } from "../../core/submission-fields.js";

// Fastify's validators for query strings, path parameters and the small bodies (task submissions
// are the Producer's to check: see routes/tasks.ts), built on the same Ajv as payload schemas,
// with two settings that matter:
// - bodies are never coerced ("5" stays a wrong type for an integer, not 5), defaults are not
//   injected and unknown fields are refused, not silently removed (removeAdditional: false);
// - query strings and path parameters are text, so there numbers and arrays are coerced
//   ("limit=10" → 10, "status=FAILURE" → ["FAILURE"]).
// The first error becomes one sentence naming the field, the rule and the value received, in
// the same words as the service's own checks.

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? "array" : false,
    useDefaults: false,
    removeAdditional: false,
    allErrors: false,
    verbose: true, // errors carry the offending value and its schema, for the messages below
    strictTypes: false,
    strictTuples: false,
  });
  ajv.addFormat("uuid", isTaskId);
  ajv.addFormat(
    "date-time",
    (s: string) => ISO_INSTANT_PATTERN.test(s) && !Number.isNaN(Date.parse(s)),
  );
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = newAjv(false);
  const coercing = newAjv(true);
  return ({ schema, httpPart }) => {
    const ajv = httpPart === "body" ? strict : coercing;
    return ajv.compile(schema as object);
  };
}

const FORMAT_HINTS: Record<string, string> = {
  uuid: "a lowercase UUID such as 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
  "date-time": "an ISO 8601 instant such as 2026-12-01T09:00:00Z",
};

function got(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? "nothing" : text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function fieldName(dataVar: string, instancePath: string): string {
  const path = instancePath.slice(1).replaceAll("/", ".");
  if (dataVar === "querystring") return path ? `query parameter ${path}` : "the query string";
  if (dataVar === "params") return path ? `path parameter ${path}` : "the path";
  return path || "the request body";
}

function describe(error: ErrorObject, dataVar: string): string {
  const field = fieldName(dataVar, error.instancePath);
  const params = error.params as Record<string, unknown>;
  const parent = (error.parentSchema ?? {}) as Record<string, unknown>;
  const { minimum, maximum } = parent;
  switch (error.keyword) {
    case "required": {
      const name = String(params.missingProperty);
      const full = field.startsWith("the ") ? name : `${field}.${name}`;
      return `${full} is required`;
    }
    case "additionalProperties": {
      const name = JSON.stringify(params.additionalProperty);
      const allowed = Object.keys((parent.properties ?? {}) as object).join(", ");
      if (dataVar === "querystring") {
        return `unknown query parameter ${name}; allowed: ${allowed || "none"}`;
      }
      return `unknown field ${name} in ${field}; allowed fields: ${allowed}`;
    }
    case "type":
    case "minimum":
    case "maximum":
      if (typeof minimum === "number" && typeof maximum === "number") {
        return `${field} must be an integer between ${minimum} and ${maximum} (got ${got(error.data)})`;
      }
      return `${field} ${error.message} (got ${got(error.data)})`;
    case "pattern":
      return `${field} must match ${String(params.pattern)} (got ${got(error.data)})`;
    case "format":
      return `${field} must be ${FORMAT_HINTS[String(params.format)] ?? `a ${params.format}`} (got ${got(error.data)})`;
    case "enum":
      return `${field} must be one of ${(params.allowedValues as unknown[]).map(got).join(", ")} (got ${got(error.data)})`;
    case "minProperties":
    case "maxProperties":
      // The schema's description says what the object must hold (the DLQ selector).
      return typeof parent.description === "string"
        ? `${field}: ${parent.description}`
        : `${field} ${error.message}`;
    default:
      return `${field} ${error.message ?? "is invalid"} (got ${got(error.data)})`;
  }
}

/** Fastify's schemaErrorFormatter: Ajv's errors → one InvalidArgumentError (→ 400). */
export function formatSchemaErrors(errors: readonly ErrorObject[], dataVar: string): Error {
  const first = errors[0];
  return new InvalidArgumentError(first ? describe(first, dataVar) : `${dataVar} is invalid`);
}

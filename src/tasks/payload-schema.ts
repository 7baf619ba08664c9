import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import { InvalidArgumentError } from "../core/errors.js";

// Payload schemas (JSON Schema, draft-07 as Ajv 8 reads it by default). Each schema is compiled
// once, when its function is registered, so a broken schema fails at worker start-up (where its
// author sees it) and validation per task is a call to generated code.
//
// Strict about the schema itself: a typo such as `requried` is a registration error, not a
// silently ignored keyword. Not strict about valid-but-loose schemas (`required` without
// `properties`, untyped keywords), which are plain JSON Schema that users rightly write. Ajv
// ships no `format` implementations (they live in ajv-formats, which we do not depend on), and
// an unknown format is refused, so the common ones are defined here.
//
// Ajv (CommonJS, ~20 ms to load) is required when the first compiler is made, not with this
// module: CLI commands that reach the registry's types through the service (`gotaskq status`)
// never compile a schema and should not pay for it.

/** A JSON Schema object. Kept structural: users write schemas as plain object literals. */
export type JsonSchema = Record<string, unknown>;

export type PayloadValidator = ValidateFunction<unknown>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Deliberately loose (one @, a dot in the domain, no spaces): mail servers decide the rest.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Errors listed in one message; more than this is noise for the caller who has to fix them. */
const MAX_LISTED_ERRORS = 5;

export function createSchemaCompiler(): (schema: JsonSchema, key: string) => PayloadValidator {
  const { Ajv } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
  const ajv = new Ajv({
    allErrors: true,
    strictSchema: true,
    strictNumbers: true,
    strictTypes: false,
    strictTuples: false,
    strictRequired: false,
  });
  ajv.addFormat("uuid", UUID);
  ajv.addFormat("email", EMAIL);
  ajv.addFormat("date", DATE);
  ajv.addFormat("date-time", (s: string) => DATE_TIME.test(s) && !Number.isNaN(Date.parse(s)));
  ajv.addFormat("uri", (s: string) => URL.canParse(s));
  return (schema, key) => {
    try {
      return ajv.compile(schema);
    } catch (error) {
      throw new InvalidArgumentError(
        `the payload schema of ${JSON.stringify(key)} is not a valid JSON Schema: ${(error as Error).message}`,
      );
    }
  };
}

/** Turns Ajv's errors into one sentence a caller can act on, with JSON-pointer-ish field paths. */
export function describeSchemaErrors(
  key: string,
  errors: readonly ErrorObject[] | null | undefined,
): string {
  const list = (errors ?? []).slice(0, MAX_LISTED_ERRORS).map(describeOne);
  const more = (errors?.length ?? 0) - list.length;
  const tail = more > 0 ? `; and ${more} more` : "";
  return `payload does not match the schema of ${JSON.stringify(key)}: ${list.join("; ")}${tail}`;
}

function describeOne(error: ErrorObject): string {
  const path = `payload${error.instancePath.replaceAll("/", ".")}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `${path} must have the field ${JSON.stringify(params.missingProperty)}`;
    case "additionalProperties":
      return `${path} has the unexpected field ${JSON.stringify(params.additionalProperty)}`;
    case "enum":
      return `${path} must be one of ${JSON.stringify(params.allowedValues)}`;
    default:
      return `${path} ${error.message ?? "is invalid"}`;
  }
}

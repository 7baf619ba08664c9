import { readFile, writeFile } from "node:fs/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { compile, type JSONSchema } from "json-schema-to-typescript";

// Writes the dashboard's REST response types from the server's response schemas
// (src/api/rest/response-schemas.ts, the objects Fastify serializes with and /openapi.json
// shows), so renaming a response field fails the dashboard's type check instead of showing
// blanks at run time. `npm run typecheck` and `npm run build:dashboard` run it first.
//
// Why a generator and not FromSchema-style type-level derivation: the schemas are built by
// helpers (`object(title, …)`, shared `str`/`iso`) and typed as `Schema`, a plain record, which
// erases the literal types such derivation needs; making them `as const` would mean rewriting
// the server's file around the dashboard. The output is gitignored, not committed: it is
// regenerated before every dashboard tsc and vite build (and `npm ci` builds through `prepare`),
// so it cannot go stale and needs no staleness test.

const here = new URL(".", import.meta.url);
export const OUTPUT = fileURLToPath(new URL("../src/rest-responses.gen.ts", here));

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

// Keywords that only annotate: a schema with nothing else admits any JSON value. The library
// reads such a schema as an object with an index signature, so it gets `unknown` explicitly.
const ANNOTATIONS = new Set(["title", "description", "examples", "default", "deprecated"]);

/**
 * A copy of `schema` for the compiler: an exported schema nested in another (taskRecordSchema in
 * taskPageSchema) becomes a $ref to its definition, so it is declared once, not as TaskRecord and
 * TaskRecord1; an annotation-only (sub)schema is typed `unknown`.
 */
function forCompiler(schema: unknown, refs: ReadonlyMap<object, string>, top = true): unknown {
  if (Array.isArray(schema)) return schema.map((item) => forCompiler(item, refs, false));
  if (!isObject(schema)) return schema;
  const ref = top ? undefined : refs.get(schema);
  if (ref) return { $ref: `#/definitions/${ref}` };
  if (Object.keys(schema).every((key) => ANNOTATIONS.has(key))) {
    return { ...schema, tsType: "unknown" };
  }
  const copy: Json = {};
  for (const [key, value] of Object.entries(schema)) copy[key] = forCompiler(value, refs, false);
  return copy;
}

/**
 * TypeScript declarations for every titled schema the module exports, each named by its title
 * (TaskRecord, QueueList, …), as /openapi.json names them.
 */
export async function restResponseTypes(schemaModule: Record<string, unknown>): Promise<string> {
  const titles = new Map<object, string>();
  const exportOf = new Map<string, string>();
  for (const [name, schema] of Object.entries(schemaModule)) {
    if (!isObject(schema) || typeof schema.title !== "string") continue;
    const other = exportOf.get(schema.title);
    if (other) {
      throw new Error(
        `${other} and ${name} are both titled "${schema.title}": give each response schema its own title`,
      );
    }
    exportOf.set(schema.title, name);
    titles.set(schema, schema.title);
  }
  const definitions: Record<string, unknown> = {};
  const properties: Record<string, unknown> = {};
  for (const [schema, title] of titles) {
    definitions[title] = forCompiler(schema, titles);
    properties[exportOf.get(title) ?? title] = { $ref: `#/definitions/${title}` };
  }
  const root = {
    title: "ResponseSchemaTypes",
    description: "Each export of src/api/rest/response-schemas.ts and the type it describes.",
    type: "object",
    properties,
    required: Object.keys(properties),
    definitions,
  };
  return compile(root as JSONSchema, "ResponseSchemaTypes", {
    bannerComment: [
      "// Generated from src/api/rest/response-schemas.ts by web/dashboard/scripts/generate-rest-types.ts",
      "// (npm run gen:dashboard-types; typecheck and build run it). Do not edit: gitignored, rewritten.",
    ].join("\n"),
    // The server serializes with these schemas, which drops every field they do not list.
    additionalProperties: false,
    unknownAny: true,
    style: { printWidth: 100, semi: true, singleQuote: false, trailingComma: "all" },
  });
}

async function main(): Promise<void> {
  const schemas = await import("../../../src/api/rest/response-schemas.js");
  const source = await restResponseTypes(schemas);
  const current = await readFile(OUTPUT, "utf8").catch(() => undefined);
  // Unchanged output is not rewritten, so a running vite or tsc --watch is not woken for nothing.
  if (current !== source) await writeFile(OUTPUT, source);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await main();
}

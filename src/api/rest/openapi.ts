import { readFileSync } from "node:fs";
import { problemSchema } from "./response-schemas.js";
import type { RouteSpec } from "./route-spec.js";
import type { Schema } from "./schemas.js";

// The OpenAPI 3.1 document served at /openapi.json, generated from the RouteSpecs Fastify
// registers: the same request and response schema objects, so the document cannot drift from
// what the server validates and sends (a task submission's schema is written by core from the
// field table its validator reads). (3.1 because its schemas are JSON Schema, like ours.)

const PROBLEM = "application/problem+json";

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: "Bad input (malformed JSON, wrong types, nesting over 64, invalid id); detail says what to change",
  401: "Missing, unknown or revoked API key, or an ended dashboard session",
  403: "The API key (or the operator's role) lacks the scope this operation needs, or a cookie request lacks its X-CSRF-Token",
  404: "No such task or route",
  409: "The task's current state forbids it",
  413: "Request body over the limit",
  415: "Content-Type other than application/json",
  422: "Unknown function key (the server knows the registry)",
  429: "Rate limit of the API key exceeded; see Retry-After",
  500: "Server bug",
  503: "Broker or tracking store unreachable; retry later",
};

function packageVersion(): string {
  try {
    const url = new URL("../../../package.json", import.meta.url);
    const pkg = JSON.parse(readFileSync(url, "utf8")) as { version?: unknown };
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

function parameters(where: "path" | "query", schema: Schema | undefined): Schema[] {
  const properties = (schema?.properties ?? {}) as Record<string, Schema>;
  const required = new Set((schema?.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || required.has(name),
    ...(typeof property.description === "string" ? { description: property.description } : {}),
    schema: property,
  }));
}

function errorResponses(route: RouteSpec): Record<string, Schema> {
  const statuses = new Set<number>([500, ...(route.errors ?? [])]);
  const { body, bodyDoc, params, querystring } = route.schema;
  if (body || bodyDoc || params || querystring) statuses.add(400);
  if (route.scope) for (const s of [401, 403, 429]) statuses.add(s);
  const out: Record<string, Schema> = {};
  for (const status of [...statuses].sort()) {
    out[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? "Error",
      content: { [PROBLEM]: { schema: { $ref: "#/components/schemas/Problem" } } },
    };
  }
  return out;
}

function operation(route: RouteSpec): Schema {
  const { params, querystring, response } = route.schema;
  const body = route.schema.bodyDoc ?? route.schema.body;
  const responses: Record<string, Schema> = {};
  for (const [status, schema] of Object.entries(response)) {
    responses[status] = {
      description: status === "202" ? "Accepted" : "OK",
      content: { [route.contentType ?? "application/json"]: { schema } },
    };
  }
  return {
    operationId: route.operationId,
    summary: route.summary,
    tags: [route.tag],
    ...(route.scope
      ? {
          description: `Requires an API key with the "${route.scope}" scope, or the dashboard session cookie of an operator whose role grants it (state-changing requests then also send X-CSRF-Token).`,
        }
      : { security: [] }),
    parameters: [...parameters("path", params), ...parameters("query", querystring)],
    ...(body
      ? {
          requestBody: {
            // A body schema that admits null (requeue options) makes the body optional.
            required: !(Array.isArray(body.type) && body.type.includes("null")),
            content: { "application/json": { schema: body } },
          },
        }
      : {}),
    responses: { ...responses, ...errorResponses(route) },
  };
}

export function buildOpenApi(routes: readonly RouteSpec[]): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = operation(route);
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "GoTaskQ API",
      version: packageVersion(),
      description:
        "Submit and inspect tasks. Authenticate with Authorization: Bearer <key> or X-API-Key: <key>. Errors are RFC 9457 problem documents.",
    },
    paths,
    components: {
      schemas: { Problem: problemSchema },
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "An API key (gtq_…)." },
        apiKeyHeader: { type: "apiKey", in: "header", name: "X-API-Key" },
        sessionCookie: {
          type: "apiKey",
          in: "cookie",
          name: "gotaskq_session",
          description: "The dashboard session set by POST /auth/login.",
        },
      },
    },
    security: [{ bearer: [] }, { apiKeyHeader: [] }, { sessionCookie: [] }],
  };
}

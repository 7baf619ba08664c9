import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SUBMISSION_FIELDS } from "../../core/submission-fields.js";
import { type ApiStack, startApiStack } from "../api-stack.fixture.js";
import { submittedTaskSchema } from "./response-schemas.js";
import { taskSubmissionSchema } from "./schemas.js";

// /openapi.json is generated from the very route specs and schemas Fastify uses.

type Doc = {
  openapi: string;
  paths: Record<
    string,
    Record<
      string,
      {
        security?: unknown[];
        requestBody?: { content: Record<string, { schema: unknown }> };
        responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
      }
    >
  >;
  components: { schemas: Record<string, unknown> };
};

describe("OpenAPI document", () => {
  let s: ApiStack;
  let doc: Doc;
  beforeAll(async () => {
    s = await startApiStack();
    doc = (await s.call("/openapi.json", { key: null })).json as unknown as Doc;
  });
  afterAll(() => s.cleanup());

  it("documents exactly the REST surface the README lists", () => {
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(doc.openapi).toBe("3.1.0");
    expect(operations.sort()).toEqual(
      [
        "POST /v1/tasks",
        "POST /v1/tasks/batch",
        "GET /v1/tasks/{id}",
        "GET /v1/tasks",
        "GET /v1/tasks/{id}/logs",
        "POST /v1/tasks/{id}/cancel",
        "POST /v1/tasks/{id}/requeue",
        "GET /v1/queues",
        "GET /v1/queues/{queue}/dlq",
        "POST /v1/queues/{queue}/dlq/requeue",
        "GET /v1/workers",
        "GET /v1/functions",
        "GET /v1/events",
        "GET /v1/stats/throughput",
        "GET /v1/schedules",
        "POST /v1/schedules",
        "GET /v1/schedules/{id}",
        "PUT /v1/schedules/{id}",
        "DELETE /v1/schedules/{id}",
        "POST /v1/schedules/{id}/pause",
        "POST /v1/schedules/{id}/resume",
        "POST /v1/schedules/{id}/trigger",
        "GET /v1/schedules/{id}/tasks",
        "GET /healthz",
        "GET /readyz",
        "GET /metrics",
        "GET /openapi.json",
      ].sort(),
    );
  });

  it("uses the schemas the server validates and serializes with", () => {
    const submit = doc.paths["/v1/tasks"]?.post;
    expect(submit?.requestBody?.content["application/json"]?.schema).toEqual(
      JSON.parse(JSON.stringify(taskSubmissionSchema)),
    );
    expect(submit?.responses["202"]?.content?.["application/json"]?.schema).toEqual(
      JSON.parse(JSON.stringify(submittedTaskSchema)),
    );
    expect(Object.keys(submit?.responses ?? {})).toEqual(
      expect.arrayContaining(["202", "400", "401", "403", "413", "415", "422", "429"]),
    );
  });

  it("describes every submission field, for one task and for each item of a batch", () => {
    const submission = JSON.parse(JSON.stringify(taskSubmissionSchema));
    const batch = doc.paths["/v1/tasks/batch"]?.post;
    const batchBody = batch?.requestBody?.content["application/json"]?.schema as {
      properties: { tasks: { items: unknown } };
    };
    expect(batchBody.properties.tasks.items).toEqual(submission);
    const properties = submission.properties as Record<string, { description?: unknown }>;
    expect(Object.keys(properties)).toEqual(Object.keys(SUBMISSION_FIELDS));
    for (const [name, property] of Object.entries(properties)) {
      expect(property.description, name).toEqual(expect.any(String));
    }
    const results = batch?.responses["202"]?.content?.["application/json"]?.schema as {
      properties: { results: { items: { properties: { error: { required: string[] } } } } };
    };
    expect(results.properties.results.items.properties.error.required).toEqual([
      "code",
      "message",
      "index",
    ]);
  });

  it("marks open routes as needing no key, and resolves every $ref", () => {
    expect(doc.paths["/healthz"]?.get?.security).toEqual([]);
    expect(doc.paths["/v1/tasks"]?.get?.security).toBeUndefined();
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of refs) {
      const name = /#\/components\/schemas\/(\w+)/.exec(ref)?.[1];
      expect(name && doc.components.schemas[name]).toBeTruthy();
    }
  });
});

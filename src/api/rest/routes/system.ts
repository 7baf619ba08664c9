import type { TaskService } from "../../task-service.js";
import type { RestMetrics } from "../metrics.js";
import { healthSchema } from "../response-schemas.js";
import type { RouteSpec } from "../route-spec.js";
import type { Schema } from "../schemas.js";

// Operational routes. /healthz (the process answers), /readyz (the broker answers; 503 when it
// does not, so a load balancer stops sending submissions) and /openapi.json are open: probes
// and tooling have no key. /metrics needs the read scope: it names queues and routes.

export function systemRoutes(
  service: TaskService,
  metrics: RestMetrics,
  openapi: () => Schema,
): RouteSpec[] {
  return [
    {
      method: "GET",
      url: "/healthz",
      operationId: "health",
      summary: "Liveness: the API process answers",
      tag: "system",
      schema: { response: { 200: healthSchema } },
      handler: async () => ({ status: "ok" }),
    },
    {
      method: "GET",
      url: "/readyz",
      operationId: "ready",
      summary: "Readiness: the broker answers (503 otherwise)",
      tag: "system",
      schema: { response: { 200: healthSchema } },
      errors: [503],
      handler: async () => {
        await service.ready();
        return { status: "ready" };
      },
    },
    {
      method: "GET",
      url: "/openapi.json",
      operationId: "openapi",
      summary: "This OpenAPI 3.1 document",
      tag: "system",
      contentType: "application/json",
      schema: { response: { 200: { type: "object" } } },
      handler: async (_request, reply) => {
        reply.header("content-type", "application/json; charset=utf-8");
        return JSON.stringify(openapi());
      },
    },
    {
      method: "GET",
      url: "/metrics",
      operationId: "metrics",
      summary: "Prometheus counters of this API server",
      tag: "system",
      scope: "read",
      contentType: "text/plain",
      schema: { response: { 200: { type: "string" } } },
      handler: async (_request, reply) => {
        reply.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
        return metrics.render();
      },
    },
  ];
}

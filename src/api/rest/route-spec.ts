import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Scope } from "../auth/scopes.js";
import type { Schema } from "./schemas.js";

// A REST route described as data: Fastify registers it (validation + serialization from
// `schema`, the auth hook reads `scope`) and openapi.ts documents it from the same object.

declare module "fastify" {
  interface FastifyContextConfig {
    /** The scope the route requires; absent = open (health, readiness, OpenAPI). */
    scope?: Scope;
  }
}

export interface RouteSpec {
  method: "GET" | "POST" | "PUT" | "DELETE";
  /** Fastify syntax: /v1/tasks/:id */
  url: string;
  operationId: string;
  summary: string;
  tag: string;
  scope?: Scope;
  schema: {
    body?: Schema;
    /** Documented body when it differs from the validated one (batch items). */
    bodyDoc?: Schema;
    querystring?: Schema;
    params?: Schema;
    /** Success status → body schema. */
    response: Record<number, Schema>;
  };
  /** Media type of the success body (default application/json, serialized from its schema). */
  contentType?: string;
  /** Error statuses worth listing in the OpenAPI document besides 400/401/403/429/500. */
  errors?: number[];
  handler: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/** A path or query parameter of the raw request (decoded by the TaskService). */
export function paramOf(request: FastifyRequest, name: string): unknown {
  return (request.params as Record<string, unknown> | undefined)?.[name];
}

export function registerRoutes(app: FastifyInstance, routes: readonly RouteSpec[]): void {
  for (const route of routes) {
    const { body, querystring, params } = route.schema;
    // A non-JSON answer (metrics text, the prebuilt OpenAPI document) is sent as is.
    const response = route.contentType ? undefined : route.schema.response;
    app.route({
      method: route.method,
      url: route.url,
      schema: {
        ...(body ? { body } : {}),
        ...(querystring ? { querystring } : {}),
        ...(params ? { params } : {}),
        ...(response ? { response } : {}),
      },
      config: route.scope ? { scope: route.scope } : {},
      handler: route.handler,
    });
  }
}

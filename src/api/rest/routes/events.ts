import { SECURITY_HEADERS } from "../../dashboard/security-headers.js";
import type { TaskService } from "../../task-service.js";
import { type DashboardAuth, sessionWatch } from "../dashboard-auth.js";
import type { EventStreamHub } from "../event-stream.js";
import { HttpProblem } from "../problem.js";
import type { RouteSpec } from "../route-spec.js";
import { functionKeySchema, queueNameSchema, type Schema } from "../schemas.js";

// GET /v1/events: live task changes as Server-Sent Events (see event-stream.ts for the stream's
// rules). Authenticated like every /v1 route (API key or session cookie, read scope) before the
// response is taken over; the optional filters (status, function_key, queue; anything else is
// refused by the schema) are checked first so a bad one is a 400.

const eventsQuerySchema: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: {
      type: "array",
      items: { type: "string" },
      description: "Only tasks in these statuses: comma-separated or repeated.",
    },
    function_key: functionKeySchema,
    queue: queueNameSchema,
  },
};

export function eventRoutes(
  service: TaskService,
  hub: EventStreamHub,
  dashboard: DashboardAuth | undefined,
): RouteSpec[] {
  return [
    {
      method: "GET",
      url: "/v1/events",
      operationId: "streamEvents",
      summary:
        "Live task changes (text/event-stream): `event: task`, `data:` one task as in GET /v1/tasks; `: ping` every 15 s",
      tag: "tasks",
      scope: "read",
      contentType: "text/event-stream",
      schema: {
        querystring: eventsQuerySchema,
        response: {
          200: {
            type: "string",
            description:
              "A stream of `event: task` messages whose data is a task record (TaskRecord), for every task created or changed anywhere.",
          },
        },
      },
      errors: [503],
      handler: async (request, reply) => {
        const query = await service.decodeListQuery(request.query);
        if (hub.closed) {
          throw new HttpProblem(
            503,
            "unavailable",
            "Service unavailable",
            "the server is shutting down; reconnect to another replica",
          );
        }
        if (hub.size >= hub.maxClients) {
          throw new HttpProblem(
            503,
            "unavailable",
            "Service unavailable",
            `this server already streams to ${hub.maxClients} clients; retry later or use another replica`,
          );
        }
        const signed = request.signedIn;
        reply.hijack();
        const response = reply.raw;
        response.writeHead(200, {
          ...SECURITY_HEADERS,
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-store",
          connection: "keep-alive",
          "x-accel-buffering": "no",
        });
        response.write("retry: 3000\n: connected\n\n");
        hub.add({
          response,
          filter: {
            ...(query.status ? { status: query.status } : {}),
            ...(query.functionKey !== undefined ? { functionKey: query.functionKey } : {}),
            ...(query.queue !== undefined ? { queue: query.queue } : {}),
          },
          stillAuthorized: signed && dashboard ? sessionWatch(dashboard, signed) : () => true,
        });
      },
    },
  ];
}

import type { TaskService } from "../../task-service.js";
import { functionsSchema, workersSchema } from "../response-schemas.js";
import type { RouteSpec } from "../route-spec.js";
import { functionWire, workerWire } from "../wire.js";

// What runs the tasks: live workers (from their heartbeats) and the functions they offer.

export function clusterRoutes(service: TaskService): RouteSpec[] {
  return [
    {
      method: "GET",
      url: "/v1/workers",
      operationId: "listWorkers",
      summary: "Workers seen in the last 60 s",
      tag: "workers",
      scope: "read",
      schema: { response: { 200: workersSchema } },
      handler: async () => ({ workers: (await service.workers()).map(workerWire) }),
    },
    {
      method: "GET",
      url: "/v1/functions",
      operationId: "listFunctions",
      summary:
        "Known functions: the server's registry with payload schema and submission defaults, then the other keys live workers register (key only); without a registry, the keys live workers announce",
      tag: "workers",
      scope: "read",
      schema: { response: { 200: functionsSchema } },
      handler: async () => ({ functions: (await service.functions()).map(functionWire) }),
    },
  ];
}

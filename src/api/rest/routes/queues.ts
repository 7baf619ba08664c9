import type { TaskService } from "../../task-service.js";
import {
  deadLetterPageSchema,
  deadLetterRequeueSchema,
  queuesSchema,
} from "../response-schemas.js";
import { paramOf, type RouteSpec } from "../route-spec.js";
import { deadLetterQuerySchema, deadLetterSelectorSchema, queueParamsSchema } from "../schemas.js";
import { cursorWire, queueStatsWire, requeuedWire } from "../wire.js";

// /v1/queues: broker-side counts per queue, and each queue's dead-letter queue (list, requeue).
// These read the broker, the source of truth, not the tracking store.

export function queueRoutes(service: TaskService): RouteSpec[] {
  return [
    {
      method: "GET",
      url: "/v1/queues",
      operationId: "listQueues",
      summary: "Per queue: ready, in flight, delayed, dead-lettered",
      tag: "queues",
      scope: "read",
      schema: { response: { 200: queuesSchema } },
      handler: async () => ({ queues: (await service.queues()).map(queueStatsWire) }),
    },
    {
      method: "GET",
      url: "/v1/queues/:queue/dlq",
      operationId: "listDeadLetters",
      summary: "A queue's dead-lettered tasks, oldest first",
      tag: "queues",
      scope: "admin",
      schema: {
        params: queueParamsSchema,
        querystring: deadLetterQuerySchema,
        response: { 200: deadLetterPageSchema },
      },
      handler: async (request) => {
        const page = await service.deadLetters(paramOf(request, "queue"), request.query);
        return { entries: page.entries, ...cursorWire(page.nextCursor) };
      },
    },
    {
      method: "POST",
      url: "/v1/queues/:queue/dlq/requeue",
      operationId: "requeueDeadLetters",
      summary: "Requeue dead-lettered tasks by ids, by reason, or all",
      tag: "queues",
      scope: "admin",
      schema: {
        params: queueParamsSchema,
        body: deadLetterSelectorSchema,
        response: { 202: deadLetterRequeueSchema },
      },
      errors: [415],
      handler: async (request, reply) => {
        const { requeued } = await service.requeueDeadLetters(
          paramOf(request, "queue"),
          request.body,
        );
        reply.code(202);
        return { requeued: requeued.map(requeuedWire) };
      },
    },
  ];
}

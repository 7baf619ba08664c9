import type { TaskService } from "../../task-service.js";
import { THROUGHPUT_BUCKET_MS } from "../../throughput.js";
import {
  deadLetterPageSchema,
  deadLetterRequeueSchema,
  queuesSchema,
} from "../response-schemas.js";
import { paramOf, type RouteSpec } from "../route-spec.js";
import {
  deadLetterQuerySchema,
  deadLetterSelectorSchema,
  queueParamsSchema,
  type Schema,
} from "../schemas.js";
import { cursorWire, queueStatsWire, requeuedWire } from "../wire.js";

// /v1/queues: broker-side counts per queue, and each queue's dead-letter queue (list, requeue).
// These read the broker, the source of truth, not the tracking store.

const throughputSchema: Schema = {
  title: "Throughput",
  type: "object",
  properties: {
    window: { type: "string" },
    bucket_seconds: { type: "integer" },
    queues: {
      type: "array",
      items: {
        title: "QueueThroughput",
        type: "object",
        properties: {
          queue: { type: "string" },
          buckets: {
            type: "array",
            items: {
              type: "object",
              properties: {
                start: { type: "string", format: "date-time" },
                succeeded: { type: "integer" },
                failed: { type: "integer" },
              },
              required: ["start", "succeeded", "failed"],
            },
          },
        },
        required: ["queue", "buckets"],
      },
    },
  },
  required: ["window", "bucket_seconds", "queues"],
};

export function queueRoutes(service: TaskService): RouteSpec[] {
  return [
    {
      method: "GET",
      url: "/v1/stats/throughput",
      operationId: "getThroughput",
      summary:
        "Tasks finished per queue per minute (succeeded, failed) over a recent window, from the tracking store",
      tag: "queues",
      scope: "read",
      schema: {
        querystring: {
          type: "object",
          additionalProperties: false,
          properties: {
            window: {
              type: "string",
              description: "How far back: 15m, 1h (default), 6h, 24h (at most).",
            },
          },
        },
        response: { 200: throughputSchema },
      },
      handler: async (request) => {
        const queues = await service.throughput(request.query);
        const window = (request.query as { window?: string } | undefined)?.window || "1h";
        return {
          window,
          bucket_seconds: THROUGHPUT_BUCKET_MS / 1_000,
          queues: queues.map((q) => ({
            queue: q.queue,
            buckets: q.buckets.map((b) => ({ ...b, start: new Date(b.start).toISOString() })),
          })),
        };
      },
    },
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

import { InvalidArgumentError } from "../../../core/errors.js";
import type { TaskService } from "../../task-service.js";
import type { RestMetrics } from "../metrics.js";
import {
  batchResultSchema,
  cancelAnswerSchema,
  logLinesSchema,
  requeuedTaskSchema,
  submittedTaskSchema,
  taskPageSchema,
  taskRecordSchema,
} from "../response-schemas.js";
import { paramOf, type RouteSpec } from "../route-spec.js";
import {
  batchBodySchema,
  idParamsSchema,
  listQuerySchema,
  logsQuerySchema,
  requeueBodySchema,
  taskSubmissionSchema,
} from "../schemas.js";
import { cursorWire, logLineWire, requeuedWire, taskRecordWire } from "../wire.js";

// /v1/tasks: submit (one or a batch), read (one, a page, its logs), cancel and requeue.
// Accepting routes answer 202: the broker holds the task; running it is still to come. A
// duplicate (same idempotency key and submission, or a unique key already held) answers 200
// with the existing task's id and "duplicate": true: nothing new was accepted.
// Submission bodies go to the service unchecked (the Producer validates each task once); a
// batch answer carries each refused item's index in its error.

/** The `Idempotency-Key` header, folded into the body (the two must agree when both are given). */
function withIdempotencyHeader(body: unknown, header: string | string[] | undefined): unknown {
  if (header === undefined) return body;
  if (Array.isArray(header)) {
    throw new InvalidArgumentError("send one Idempotency-Key header, not several");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) return body;
  const given = (body as Record<string, unknown>).idempotency_key;
  if (given !== undefined && given !== null && given !== header) {
    throw new InvalidArgumentError(
      "the Idempotency-Key header and the body's idempotency_key differ; send the key once, or the same value in both",
    );
  }
  return { ...body, idempotency_key: header };
}

export function taskRoutes(service: TaskService, metrics: RestMetrics): RouteSpec[] {
  return [
    {
      method: "POST",
      url: "/v1/tasks",
      operationId: "submitTask",
      summary: "Submit a task (202 once the broker holds it durably)",
      tag: "tasks",
      scope: "submit",
      // Documented, not checked by Fastify: the Producer validates the body, once.
      schema: {
        bodyDoc: taskSubmissionSchema,
        response: { 200: submittedTaskSchema, 202: submittedTaskSchema },
      },
      errors: [409, 413, 415, 422, 503],
      handler: async (request, reply) => {
        const body = withIdempotencyHeader(request.body, request.headers["idempotency-key"]);
        const task = await service.submit(body);
        if (task.duplicate) metrics.countDuplicates(1);
        else metrics.countSubmitted(1);
        reply.code(task.duplicate ? 200 : 202).header("location", `/v1/tasks/${task.id}`);
        return task;
      },
    },
    {
      method: "POST",
      url: "/v1/tasks/batch",
      operationId: "submitTasks",
      summary: "Submit up to 1,000 tasks; one result per item, in order",
      tag: "tasks",
      scope: "submit",
      schema: { bodyDoc: batchBodySchema, response: { 202: batchResultSchema } },
      errors: [413, 415, 503],
      handler: async (request, reply) => {
        if (request.headers["idempotency-key"] !== undefined) {
          throw new InvalidArgumentError(
            "the Idempotency-Key header applies to POST /v1/tasks; in a batch, give each task its own idempotency_key",
          );
        }
        const answer = await service.submitBatch(request.body);
        const duplicates = answer.results.filter((r) => "id" in r && r.duplicate).length;
        metrics.countSubmitted(answer.results.filter((r) => "id" in r).length - duplicates);
        metrics.countDuplicates(duplicates);
        reply.code(202);
        return answer;
      },
    },
    {
      method: "GET",
      url: "/v1/tasks",
      operationId: "listTasks",
      summary: "List tracked tasks, newest first",
      tag: "tasks",
      scope: "read",
      schema: { querystring: listQuerySchema, response: { 200: taskPageSchema } },
      handler: async (request) => {
        const page = await service.list(request.query);
        return { tasks: page.tasks.map(taskRecordWire), ...cursorWire(page.nextCursor) };
      },
    },
    {
      method: "GET",
      url: "/v1/tasks/:id",
      operationId: "getTask",
      summary: "The tracked record of a task",
      tag: "tasks",
      scope: "read",
      schema: { params: idParamsSchema, response: { 200: taskRecordSchema } },
      errors: [404],
      handler: async (request) => taskRecordWire(await service.get(paramOf(request, "id"))),
    },
    {
      method: "GET",
      url: "/v1/tasks/:id/logs",
      operationId: "getTaskLogs",
      summary: "Log lines the task's handler wrote, oldest first",
      tag: "tasks",
      scope: "read",
      schema: {
        params: idParamsSchema,
        querystring: logsQuerySchema,
        response: { 200: logLinesSchema },
      },
      handler: async (request) => {
        const lines = await service.logs(paramOf(request, "id"), request.query);
        return { lines: lines.map(logLineWire) };
      },
    },
    {
      method: "POST",
      url: "/v1/tasks/:id/cancel",
      operationId: "cancelTask",
      summary: "Cancel a queued or running task (through the broker's control channel)",
      tag: "tasks",
      scope: "admin",
      schema: { params: idParamsSchema, response: { 202: cancelAnswerSchema } },
      errors: [409],
      handler: async (request, reply) => {
        const answer = await service.cancel(paramOf(request, "id"));
        reply.code(202);
        return answer;
      },
    },
    {
      method: "POST",
      url: "/v1/tasks/:id/requeue",
      operationId: "requeueTask",
      summary: "Run a FAILURE or CANCELED task again, as a fresh run",
      tag: "tasks",
      scope: "admin",
      schema: {
        params: idParamsSchema,
        body: requeueBodySchema,
        response: { 202: requeuedTaskSchema },
      },
      errors: [404, 409],
      handler: async (request, reply) => {
        const requeued = await service.requeue(paramOf(request, "id"), request.body);
        reply.code(202);
        return requeuedWire(requeued);
      },
    },
  ];
}

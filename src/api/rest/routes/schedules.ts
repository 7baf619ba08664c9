import type { ScheduleService, ScheduleView } from "../../schedule-service.js";
import type { TaskService } from "../../task-service.js";
import {
  scheduleListSchema,
  scheduleRemovedSchema,
  scheduleSchema,
  submittedTaskSchema,
  taskPageSchema,
} from "../response-schemas.js";
import { paramOf, type RouteSpec } from "../route-spec.js";
import type { Schema } from "../schemas.js";
import { cursorWire, taskRecordWire } from "../wire.js";

// /v1/schedules: cron and interval schedules (issue 18), stored in the coordination store and
// fired by every process that runs the scheduler. Reads need "read"; every change and trigger
// needs "admin". Bodies go to the ScheduleService unchecked by Fastify (it validates once, with messages
// that say what to change), documented here from the same fields.

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

export function scheduleWire(view: ScheduleView) {
  const { state, next_runs, created_at, updated_at, active_since: _, every_ms: __, ...spec } = view;
  return {
    ...spec,
    created_at: iso(created_at),
    updated_at: iso(updated_at),
    next_runs: next_runs.map((t) => new Date(t).toISOString()),
    ...(state.last_tick !== undefined ? { last_tick: iso(state.last_tick) } : {}),
    ...(state.last_task_id !== undefined ? { last_task_id: state.last_task_id } : {}),
    ...(state.last_outcome !== undefined ? { last_outcome: state.last_outcome } : {}),
    ...(state.last_error !== undefined ? { last_error: state.last_error } : {}),
    ...(state.last_at !== undefined ? { last_at: iso(state.last_at) } : {}),
  };
}

const idParams: Schema = {
  type: "object",
  required: ["id"],
  additionalProperties: false,
  properties: { id: { type: "string", maxLength: 128 } },
};

const bodyDoc: Schema = {
  title: "ScheduleSpec",
  type: "object",
  required: ["id", "function_key"],
  description:
    "Exactly one of cron and every. The task fields (payload, queue, priority, timeout_ms, max_retries, backoff, metadata) are those of a task submission.",
  properties: {
    id: { type: "string", pattern: "^[A-Za-z0-9_.:-]{1,128}$" },
    function_key: { type: "string" },
    cron: {
      type: "string",
      description: '5 fields "minute hour day month weekday", or 6 with seconds first.',
      examples: ["0 3 * * *", "*/10 * * * * *"],
    },
    timezone: { type: "string", description: 'IANA zone of cron (default "UTC").' },
    every: { type: "string", description: "Interval of at least 1s.", examples: ["30s", "1h30m"] },
    payload: { description: "Any JSON (default {})." },
    queue: { type: "string" },
    priority: { type: "integer" },
    timeout_ms: { type: "integer" },
    max_retries: { type: "integer" },
    backoff: { type: "object" },
    metadata: { type: "object", additionalProperties: { type: "string" } },
    missed: {
      type: "string",
      enum: ["skip", "catch_up"],
      description:
        "Ticks due while no scheduler ran: skip them (default), or submit the latest catch_up_max of them.",
    },
    catch_up_max: { type: "integer", minimum: 1, maximum: 1000, description: "Default 10." },
    overlap: {
      type: "string",
      enum: ["allow", "skip_if_running"],
      description:
        "skip_if_running: a tick whose previous task is still queued or running submits nothing.",
    },
    paused: { type: "boolean" },
  },
  examples: [{ id: "heartbeat", function_key: "demo.echo", every: "30s", payload: { ping: true } }],
};

const historyQuery: Schema = {
  type: "object",
  additionalProperties: false,
  properties: {
    status: { type: "array", items: { type: "string" } },
    limit: { type: "integer", minimum: 1, maximum: 500 },
    cursor: { type: "string", maxLength: 1000 },
  },
};

export function scheduleRoutes(schedules: ScheduleService, tasks: TaskService): RouteSpec[] {
  const one = (verb: "pause" | "resume", summary: string): RouteSpec => ({
    method: "POST",
    url: `/v1/schedules/:id/${verb}`,
    operationId: `${verb}Schedule`,
    summary,
    tag: "schedules",
    scope: "admin",
    schema: { params: idParams, response: { 200: scheduleSchema } },
    errors: [404, 503],
    handler: async (request) => scheduleWire(await schedules[verb](paramOf(request, "id"))),
  });
  return [
    {
      method: "GET",
      url: "/v1/schedules",
      operationId: "listSchedules",
      summary: "Every schedule, with its next runs and its last outcome",
      tag: "schedules",
      scope: "read",
      schema: { response: { 200: scheduleListSchema } },
      errors: [503],
      handler: async () => ({ schedules: (await schedules.list()).map(scheduleWire) }),
    },
    {
      method: "POST",
      url: "/v1/schedules",
      operationId: "createSchedule",
      summary: "Create a schedule (409 when the id is taken)",
      tag: "schedules",
      scope: "admin",
      schema: { bodyDoc, response: { 201: scheduleSchema } },
      errors: [409, 415, 422, 503],
      handler: async (request, reply) => {
        const view = await schedules.create(request.body);
        reply.code(201);
        return scheduleWire(view);
      },
    },
    {
      method: "GET",
      url: "/v1/schedules/:id",
      operationId: "getSchedule",
      summary: "One schedule, with its next runs and its last outcome",
      tag: "schedules",
      scope: "read",
      schema: { params: idParams, response: { 200: scheduleSchema } },
      errors: [404, 503],
      handler: async (request) => scheduleWire(await schedules.get(paramOf(request, "id"))),
    },
    {
      method: "PUT",
      url: "/v1/schedules/:id",
      operationId: "putSchedule",
      summary: "Create or replace a schedule (its paused flag is the body's)",
      tag: "schedules",
      scope: "admin",
      schema: { params: idParams, bodyDoc, response: { 200: scheduleSchema } },
      errors: [415, 422, 503],
      handler: async (request) =>
        scheduleWire(await schedules.put(paramOf(request, "id"), request.body)),
    },
    {
      method: "DELETE",
      url: "/v1/schedules/:id",
      operationId: "removeSchedule",
      summary: "Remove a schedule (its tasks stay)",
      tag: "schedules",
      scope: "admin",
      schema: { params: idParams, response: { 200: scheduleRemovedSchema } },
      errors: [404, 503],
      handler: async (request) => {
        const id = paramOf(request, "id");
        await schedules.remove(id);
        return { id, removed: true };
      },
    },
    one("pause", "Pause a schedule: no tick fires until it is resumed"),
    one(
      "resume",
      "Resume a schedule: ticks fire from now on (those of the pause are not caught up)",
    ),
    {
      method: "POST",
      url: "/v1/schedules/:id/trigger",
      operationId: "triggerSchedule",
      summary: "Submit the schedule's task now (paused or not)",
      tag: "schedules",
      scope: "admin",
      schema: { params: idParams, response: { 202: submittedTaskSchema } },
      errors: [404, 503],
      handler: async (request, reply) => {
        const task = await schedules.trigger(paramOf(request, "id"));
        reply.code(202);
        return task;
      },
    },
    {
      method: "GET",
      url: "/v1/schedules/:id/tasks",
      operationId: "listScheduleTasks",
      summary: "The tasks a schedule submitted, newest first (from the tracking store)",
      tag: "schedules",
      scope: "read",
      schema: { params: idParams, querystring: historyQuery, response: { 200: taskPageSchema } },
      handler: async (request) => {
        const query = (request.query ?? {}) as Record<string, unknown>;
        const page = await tasks.list({ ...query, schedule: paramOf(request, "id") });
        return { tasks: page.tasks.map(taskRecordWire), ...cursorWire(page.nextCursor) };
      },
    },
  ];
}

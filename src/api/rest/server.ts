import type { AddressInfo } from "node:net";
import fastifyCookie from "@fastify/cookie";
import Fastify, { type FastifyBaseLogger, type FastifyRequest, LogController } from "fastify";
import { InvalidArgumentError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import type { ApiKeyVerifier } from "../auth/api-key-verifier.js";
import { registerDashboardPages } from "../dashboard/pages.js";
import { SECURITY_HEADERS } from "../dashboard/security-headers.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";
import type { ScheduleService } from "../schedule-service.js";
import { TaskFeed, type TaskFeedOptions } from "../task-feed.js";
import type { TaskService } from "../task-service.js";
import { authHook } from "./auth-hook.js";
import type { DashboardAuth } from "./dashboard-auth.js";
import { EventStreamHub, type EventStreamHubOptions } from "./event-stream.js";
import { parseJsonBody } from "./json-body.js";
import { RestMetrics } from "./metrics.js";
import { buildOpenApi } from "./openapi.js";
import { HttpProblem, type ProblemContext, problemOf, sendProblem } from "./problem.js";
import { type RouteSpec, registerRoutes } from "./route-spec.js";
import { authRoutes } from "./routes/auth.js";
import { clusterRoutes } from "./routes/cluster.js";
import { eventRoutes } from "./routes/events.js";
import { queueRoutes } from "./routes/queues.js";
import { scheduleRoutes } from "./routes/schedules.js";
import { systemRoutes } from "./routes/system.js";
import { taskRoutes } from "./routes/tasks.js";
import type { Schema } from "./schemas.js";
import { createValidatorCompiler, formatSchemaErrors } from "./validation.js";

// The REST transport (/v1, API keys, problem+json errors) on Fastify: it translates HTTP to TaskService calls and back,
// nothing more. Order of defences per request: route match (404) → API key, rate budget, scope
// (401/429/403, before the body is even read) → body limit (413, counted on the bytes received;
// compressed bodies are refused, so that is the decoded size) → content type (415) → JSON
// nesting and prototype keys (400) → schema (400) → the service's own checks (400/422) →
// the broker. A request refused anywhere on that path enqueues nothing.
//
// Logging: per-request lines are off (they cost throughput and would be the place where keys
// leak); failures that are our bug are logged with their stack. The logger given is the
// process's pino logger, which redacts credentials at the top of a line and in the headers of a
// request, response or error object (logging/logger.ts).

export interface RestServerOptions {
  service: TaskService;
  /** The /v1/schedules routes; absent = none. */
  schedules?: ScheduleService;
  auth: ApiKeyVerifier;
  /** Per-API-key budget; none = unlimited. */
  rateLimiter?: TokenBucketLimiter;
  host: string;
  /** 0 = an ephemeral port (see the returned `port`). */
  port: number;
  /** Largest request body accepted, in bytes (the config's default is 1 MiB). */
  bodyLimitBytes: number;
  logger: Logger;
  /**
   * The web dashboard (issue 7): operator login with session cookies, the SPA's pages from
   * `dir` (default dist/dashboard). Without it the server is the API alone (API keys only).
   */
  dashboard?: { auth: DashboardAuth; dir?: string };
  /** Tuning of GET /v1/events (poll interval, look-back, buffers); defaults suit production. */
  events?: Omit<TaskFeedOptions, "source" | "logger"> &
    Omit<EventStreamHubOptions, "feed" | "logger">;
}

export interface RestServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function pathOf(request: FastifyRequest): string {
  const path = request.url.split("?")[0] ?? "/";
  return path.length > 200 ? `${path.slice(0, 200)}…` : path;
}

export async function startRestServer(options: RestServerOptions): Promise<RestServer> {
  const { service, bodyLimitBytes } = options;
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
    throw new InvalidArgumentError(
      `bodyLimitBytes must be a positive integer (got ${bodyLimitBytes})`,
    );
  }
  const app = Fastify({
    // pino's Logger is a FastifyBaseLogger; naming the base type keeps route types default.
    loggerInstance: options.logger.child({ component: "rest" }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: bodyLimitBytes,
    requestIdHeader: false,
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 500 },
    schemaErrorFormatter: formatSchemaErrors,
  });
  app.setValidatorCompiler(createValidatorCompiler());

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    "application/json",
    { parseAs: "string" },
    async (request: FastifyRequest, body: string) => {
      const encoding = request.headers["content-encoding"];
      if (encoding !== undefined && encoding.toLowerCase() !== "identity") {
        throw new HttpProblem(
          415,
          "unsupported_media_type",
          "Unsupported media type",
          `Content-Encoding ${JSON.stringify(encoding)} is not supported; send the JSON body uncompressed`,
        );
      }
      return parseJsonBody(body);
    },
  );

  const context = (request: FastifyRequest): ProblemContext => ({
    instance: pathOf(request),
    contentType: request.headers["content-type"],
    bodyLimitBytes,
  });
  app.setErrorHandler((error, request, reply) => {
    const { problem, fault } = problemOf(error, context(request));
    if (fault) {
      request.log.error(
        { err: error, method: request.method, route: request.routeOptions.url },
        "request failed",
      );
    }
    return sendProblem(reply, problem, error);
  });
  app.setNotFoundHandler((request, reply) => {
    const detail = `no route ${request.method} ${pathOf(request)}; the API is described at GET /openapi.json`;
    const missing = new HttpProblem(404, "not_found", "Not found", detail);
    return sendProblem(reply, problemOf(missing, context(request)).problem);
  });

  const dashboard = options.dashboard?.auth;
  // Parses Cookie into request.cookies (before the auth hook, which reads the session cookie).
  await app.register(fastifyCookie);
  const metrics = new RestMetrics();
  app.addHook("onRequest", authHook(options.auth, options.rateLimiter, dashboard));
  app.addHook("onSend", async (_request, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    return payload;
  });
  const logger = options.logger.child({ component: "events" });
  const hub = new EventStreamHub({
    ...options.events,
    logger,
    feed: new TaskFeed({ ...options.events, logger, source: (query) => service.updates(query) }),
  });
  // Open event streams would hold app.close() forever: end them first.
  app.addHook("preClose", async () => hub.close());
  app.addHook("onResponse", async (request, reply) => {
    metrics.countRequest(request.method, request.routeOptions.url ?? "unmatched", reply.statusCode);
  });

  let openapi: Schema | undefined;
  const routes: RouteSpec[] = [
    ...taskRoutes(service, metrics),
    ...queueRoutes(service),
    ...(options.schedules ? scheduleRoutes(options.schedules, service) : []),
    ...clusterRoutes(service),
    ...eventRoutes(service, hub, dashboard),
    ...(dashboard ? authRoutes(dashboard) : []),
  ];
  routes.push(...systemRoutes(service, metrics, () => (openapi ??= buildOpenApi(routes))));
  registerRoutes(app, routes);
  if (options.dashboard) {
    registerDashboardPages(app, { dashboard: options.dashboard.auth, dir: options.dashboard.dir });
  }

  await app.listen({ host: options.host, port: options.port });
  const port = (app.server.address() as AddressInfo).port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, port, close: () => app.close() };
}

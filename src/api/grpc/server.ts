import { Server, ServerCredentials, type ServiceDefinition, setLogger } from "@grpc/grpc-js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import type { ApiKeyVerifier } from "../auth/api-keys.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";
import type { ScheduleService } from "../schedule-service.js";
import type { TaskService } from "../task-service.js";
import { taskServiceHandlers } from "./handlers.js";
import { accessInterceptor } from "./interceptor.js";
import { loadTaskServiceDefinition } from "./proto-file.js";
import { MALFORMED } from "./wire.js";

// The gRPC transport: gotaskq.v1.TaskService from proto/gotaskq/v1/tasks.proto on
// @grpc/grpc-js, over the same TaskService as REST. Plaintext (h2c): terminate TLS in front of
// it, as for REST. Bad input never crashes it: oversize messages are refused by grpc-js
// (RESOURCE_EXHAUSTED) before they are buffered whole, bytes that are not a protobuf message
// become INVALID_ARGUMENT (grpc-js would answer INTERNAL), and every handler error maps through
// the shared status table.

export interface GrpcServerOptions {
  service: TaskService;
  /** The schedule rpcs; absent = they answer UNAVAILABLE. */
  schedules?: ScheduleService;
  auth: ApiKeyVerifier;
  /** Per-key request budget; none = unlimited. */
  rateLimiter?: TokenBucketLimiter;
  host: string;
  /** 0 = an ephemeral port (the handle says which). */
  port: number;
  /** Largest request message accepted, in bytes (grpc.max_receive_message_length). */
  maxMessageBytes: number;
  logger: Logger;
  /** How long close() lets calls finish before cutting them (ms). Default 5 000. */
  closeGraceMs?: number;
}

export interface GrpcServerHandle {
  /** The bound port (the ephemeral one when 0 was asked). */
  port: number;
  /** Ends open WatchTask streams, lets unary calls finish, then stops. Idempotent. */
  close(): Promise<void>;
}

export const DEFAULT_CLOSE_GRACE_MS = 5_000;

/**
 * grpc-js writes its own errors to stderr as bare text ("E No address added…" before a port-in-use
 * error that the caller reports anyway): route them through the process's logger instead, so
 * they keep the log's format. Process-wide, as grpc-js's logger is; its errors log at warn
 * because what matters reaches the caller as a rejected promise or a failed call.
 */
function routeGrpcLogs(logger: Logger): void {
  const line =
    (level: "warn" | "info") =>
    (message: unknown, ...rest: unknown[]) =>
      logger[level]({ component: "grpc-js" }, [message, ...rest].map(String).join(" "));
  setLogger({ error: line("warn"), info: line("info"), debug: line("info") });
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<GrpcServerHandle> {
  const { logger } = options;
  routeGrpcLogs(logger);
  const server = new Server({
    "grpc.max_receive_message_length": options.maxMessageBytes,
    interceptors: [
      accessInterceptor({ auth: options.auth, rateLimiter: options.rateLimiter, logger }),
    ],
  });
  const watches = new Set<AbortController>();
  server.addService(
    tolerantDeserializers(loadTaskServiceDefinition()),
    taskServiceHandlers({
      service: options.service,
      ...(options.schedules ? { schedules: options.schedules } : {}),
      logger,
      watches,
    }),
  );
  const address = `${options.host.includes(":") ? `[${options.host}]` : options.host}:${options.port}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  logger.info({ event: "grpc_listening", host: options.host, port }, "gRPC API listening");
  let closing: Promise<void> | undefined;
  return {
    port,
    close: () => {
      closing ??= shutdown(server, watches, options.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS);
      return closing;
    },
  };
}

async function shutdown(
  server: Server,
  watches: Set<AbortController>,
  graceMs: number,
): Promise<void> {
  const reason = new UnavailableError("the server is shutting down; watch the task again");
  for (const controller of watches) controller.abort(reason);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The definition with request deserializers that never throw: bytes protobufjs cannot decode
 * become a marked object that the handler refuses with INVALID_ARGUMENT (wire.ts).
 */
function tolerantDeserializers(definition: ServiceDefinition): ServiceDefinition {
  const entries = Object.entries(definition).map(([name, method]) => {
    const decode = method.requestDeserialize;
    const tolerant = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return { [MALFORMED]: error instanceof Error ? error.message : String(error) };
        }
      },
    };
    return [name, tolerant] as const;
  });
  return Object.fromEntries(entries);
}

import {
  type Metadata,
  ResponderBuilder,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  ServerListenerBuilder,
  type ServerMethodDefinition,
} from "@grpc/grpc-js";
import { GoTaskQError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import {
  type ApiKeyVerifier,
  extractApiKey,
  OPERATION_SCOPES,
  type Operation,
  requireScope,
} from "../auth/api-keys.js";
import { RateLimitedError } from "../errors.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";
import { statusOf } from "./status.js";

// Access control for every gRPC call, before any handler runs: the API key (from `authorization:
// Bearer <key>` or `x-api-key` metadata) → UNAUTHENTICATED; the scope the method needs →
// PERMISSION_DENIED; the key's token bucket → RESOURCE_EXHAUSTED with a `retry-after` trailer.
// A rejected call never reaches its handler (its message is not even read). Keys are never
// logged: rejections log the method and the key's name only, and metadata is never logged.

/** Each rpc of gotaskq.v1.TaskService and the service operation (hence scope) it maps to. */
export const RPC_OPERATIONS = {
  SubmitTask: "submit",
  SubmitTasks: "submitBatch",
  GetTask: "get",
  ListTasks: "list",
  GetTaskLogs: "logs",
  CancelTask: "cancel",
  RequeueTask: "requeue",
  ListQueues: "queues",
  WatchTask: "watch",
  ListDeadLetters: "deadLetters",
  RequeueDeadLetters: "requeueDeadLetters",
  ListWorkers: "workers",
  ListFunctions: "functions",
  ListSchedules: "schedules",
  GetSchedule: "schedules",
  CreateSchedule: "manageSchedules",
  PauseSchedule: "manageSchedules",
  ResumeSchedule: "manageSchedules",
  TriggerSchedule: "manageSchedules",
  DeleteSchedule: "manageSchedules",
} as const satisfies Record<string, Operation>;

export type RpcName = keyof typeof RPC_OPERATIONS;

export interface AccessControl {
  auth: ApiKeyVerifier;
  rateLimiter?: TokenBucketLimiter | undefined;
  logger: Logger;
}

/** The rpc name of a method path such as "/gotaskq.v1.TaskService/SubmitTask". */
function rpcOf(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function metadataValue(metadata: Metadata, key: string): string | undefined {
  const [value] = metadata.get(key);
  return typeof value === "string" ? value : value?.toString("utf8");
}

/** Throws the GoTaskQError a rejected call is answered with; returns the key's name. */
export function admit(control: AccessControl, path: string, metadata: Metadata): string {
  const rpc = rpcOf(path);
  const principal = control.auth.authenticate(
    extractApiKey({
      authorization: metadataValue(metadata, "authorization"),
      apiKey: metadataValue(metadata, "x-api-key"),
    }),
  );
  const operation: Operation | undefined = (RPC_OPERATIONS as Record<string, Operation>)[rpc];
  // Deny by default: a method added to the proto without a row here needs the strongest scope.
  requireScope(principal, operation === undefined ? "admin" : OPERATION_SCOPES[operation]);
  const verdict = control.rateLimiter?.take(principal.name);
  if (verdict !== undefined && !verdict.ok) {
    throw new RateLimitedError(
      `API key "${principal.name}" is over its rate limit of ${control.rateLimiter?.ratePerSecond} requests/s; retry in ${verdict.retryAfterSeconds} s`,
      verdict.retryAfterSeconds,
    );
  }
  return principal.name;
}

export function accessInterceptor(control: AccessControl): ServerInterceptor {
  return (
    method: ServerMethodDefinition<unknown, unknown>,
    call: ServerInterceptingCallInterface,
  ) => {
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        try {
          admit(control, method.path, metadata);
        } catch (error) {
          if (error instanceof GoTaskQError) {
            control.logger.info(
              { event: "grpc_rejected", method: method.path, code: error.code },
              error.message,
            );
          }
          call.sendStatus(statusOf(error, control.logger, method.path));
          return;
        }
        next(metadata);
      })
      .build();
    const responder = new ResponderBuilder().withStart((next) => next(listener)).build();
    return new ServerInterceptingCall(call, responder);
  };
}

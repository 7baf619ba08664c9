import { once } from "node:events";
import type {
  handleServerStreamingCall,
  handleUnaryCall,
  ServerWritableStream,
  UntypedServiceImplementation,
} from "@grpc/grpc-js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import type { ScheduleService } from "../schedule-service.js";
import type { TaskService } from "../task-service.js";
import type { RpcName } from "./interceptor.js";
import {
  deadLetterQueryOf,
  deadLetterSelectorOf,
  listQueryOf,
  logsQueryOf,
  requeueOptionsOf,
  scheduleSpecOf,
  submissionOf,
  taskIdOf,
} from "./requests.js";
import {
  batchResultMessage,
  deadLetterMessage,
  functionMessage,
  logLineMessage,
  type ProtoMessage,
  queueStatsMessage,
  requeuedMessage,
  scheduleMessage,
  submittedTaskMessage,
  taskMessage,
  workerMessage,
} from "./responses.js";
import { statusOf } from "./status.js";
import { submitBatch } from "./submit-batch.js";
import { asObject, type Loose, optionalString, requestObject } from "./wire.js";

// The TaskService rpcs: each decodes its request (requests.ts), calls the one service layer and
// encodes the answer (responses.ts). No rule lives here; errors map through the shared status
// table (status.ts). Access control already happened in the interceptor.

export interface HandlerContext {
  service: TaskService;
  /** The schedule rpcs; without it they answer UNAVAILABLE. */
  schedules?: ScheduleService;
  logger: Logger;
  /** Open WatchTask streams, aborted when the server closes. */
  watches: Set<AbortController>;
}

type Unary = (request: Loose) => Promise<ProtoMessage>;

function unary(
  ctx: HandlerContext,
  rpc: RpcName,
  run: Unary,
): handleUnaryCall<unknown, ProtoMessage> {
  return (call, callback) => {
    const answer = async () => run(requestObject(call.request, `gotaskq.v1.${rpc}Request`));
    answer().then(
      (response) => callback(null, response),
      (error: unknown) => callback(statusOf(error, ctx.logger, rpc)),
    );
  };
}

/** Every rpc of the proto's TaskService, for `server.addService`. */
export function taskServiceHandlers(ctx: HandlerContext): UntypedServiceImplementation {
  const { service } = ctx;
  const handlers: Record<RpcName, UntypedServiceImplementation[string]> = {
    SubmitTask: unary(ctx, "SubmitTask", async (r) =>
      submittedTaskMessage(await service.submit(submissionOf(r))),
    ),
    SubmitTasks: unary(ctx, "SubmitTasks", async (r) => ({
      results: (await submitBatch(service, r)).map(batchResultMessage),
    })),
    GetTask: unary(ctx, "GetTask", async (r) => taskMessage(await service.get(taskIdOf(r)))),
    ListTasks: unary(ctx, "ListTasks", async (r) => {
      const page = await service.list(listQueryOf(r));
      return { tasks: page.tasks.map(taskMessage), next_cursor: page.nextCursor };
    }),
    GetTaskLogs: unary(ctx, "GetTaskLogs", async (r) => ({
      lines: (await service.logs(taskIdOf(r), logsQueryOf(r))).map(logLineMessage),
    })),
    CancelTask: unary(ctx, "CancelTask", (r) => service.cancel(taskIdOf(r))),
    RequeueTask: unary(ctx, "RequeueTask", async (r) =>
      requeuedMessage(await service.requeue(taskIdOf(r), requeueOptionsOf(r))),
    ),
    ListQueues: unary(ctx, "ListQueues", async () => ({
      queues: (await service.queues()).map(queueStatsMessage),
    })),
    WatchTask: watchHandler(ctx),
    ListDeadLetters: unary(ctx, "ListDeadLetters", async (r) => {
      const page = await service.deadLetters(optionalString(r, "queue"), deadLetterQueryOf(r));
      return { entries: page.entries.map(deadLetterMessage), next_cursor: page.nextCursor };
    }),
    RequeueDeadLetters: unary(ctx, "RequeueDeadLetters", async (r) => {
      const { requeued } = await service.requeueDeadLetters(
        optionalString(r, "queue"),
        deadLetterSelectorOf(r),
      );
      return { requeued: requeued.map(requeuedMessage) };
    }),
    ListWorkers: unary(ctx, "ListWorkers", async () => ({
      workers: (await service.workers()).map(workerMessage),
    })),
    ListFunctions: unary(ctx, "ListFunctions", async () => ({
      functions: (await service.functions()).map(functionMessage),
    })),
    ...scheduleHandlers(ctx),
  };
  return handlers;
}

type ScheduleRpc =
  | "ListSchedules"
  | "GetSchedule"
  | "CreateSchedule"
  | "PauseSchedule"
  | "ResumeSchedule"
  | "TriggerSchedule"
  | "DeleteSchedule";

/** The schedule rpcs, over the same ScheduleService as REST /v1/schedules. */
function scheduleHandlers(
  ctx: HandlerContext,
): Record<ScheduleRpc, UntypedServiceImplementation[string]> {
  const schedules = (): ScheduleService => {
    if (!ctx.schedules) throw new UnavailableError("this server does not serve schedules");
    return ctx.schedules;
  };
  const id = (r: Loose) => optionalString(r, "id") ?? "";
  return {
    ListSchedules: unary(ctx, "ListSchedules", async () => ({
      schedules: (await schedules().list()).map(scheduleMessage),
    })),
    GetSchedule: unary(ctx, "GetSchedule", async (r) =>
      scheduleMessage(await schedules().get(id(r))),
    ),
    CreateSchedule: unary(ctx, "CreateSchedule", async (r) => {
      const spec = scheduleSpecOf(asObject(r.schedule));
      const view =
        r.replace === true ? await schedules().put(spec.id, spec) : await schedules().create(spec);
      return scheduleMessage(view);
    }),
    PauseSchedule: unary(ctx, "PauseSchedule", async (r) =>
      scheduleMessage(await schedules().pause(id(r))),
    ),
    ResumeSchedule: unary(ctx, "ResumeSchedule", async (r) =>
      scheduleMessage(await schedules().resume(id(r))),
    ),
    TriggerSchedule: unary(ctx, "TriggerSchedule", async (r) =>
      submittedTaskMessage(await schedules().trigger(id(r))),
    ),
    DeleteSchedule: unary(ctx, "DeleteSchedule", async (r) => {
      await schedules().remove(id(r));
      return { id: id(r), removed: true };
    }),
  };
}

/** WatchTask: the record on each status change until final; ends when the client cancels. */
function watchHandler(ctx: HandlerContext): handleServerStreamingCall<unknown, ProtoMessage> {
  return (call) => {
    void streamWatch(ctx, call);
  };
}

async function streamWatch(
  ctx: HandlerContext,
  call: ServerWritableStream<unknown, ProtoMessage>,
): Promise<void> {
  const controller = new AbortController();
  const onCancelled = () => controller.abort();
  call.on("cancelled", onCancelled);
  ctx.watches.add(controller);
  const { signal } = controller;
  try {
    const request = requestObject(call.request, "gotaskq.v1.WatchTaskRequest");
    for await (const record of ctx.service.watch(taskIdOf(request), signal)) {
      if (signal.aborted) break;
      if (!call.write(taskMessage(record))) await once(call, "drain", { signal });
    }
    // Aborted by a server shutdown: say so, so the client knows to watch again elsewhere.
    if (signal.reason instanceof UnavailableError) throw signal.reason;
    if (!call.cancelled) call.end();
  } catch (error) {
    if (call.cancelled) return; // the client went away: nobody to answer
    call.emit(
      "error",
      statusOf(
        signal.reason instanceof UnavailableError ? signal.reason : error,
        ctx.logger,
        "WatchTask",
      ),
    );
  } finally {
    ctx.watches.delete(controller);
    call.off("cancelled", onCancelled);
  }
}

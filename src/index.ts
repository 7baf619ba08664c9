// GoTaskQ's public library API: what an application imports to define tasks, submit them and
// run workers. Everything else (adapters, transports, the CLI) is internal and may change.
// `connect()` opens the backends the CLI would (GOTASKQ_* variables) with a producer on them.
// Concrete brokers and tracking stores are opened from URLs with `openBroker`/`openTracking`;
// `createServer` and `createWorkerApp` wire a whole API or worker process as the CLI does.

export { Backends, type BackendsOptions } from "./app/backends.js";
export {
  type ConnectOptions,
  connect,
  type GoTaskQClient,
  type WaitOptions,
} from "./app/connect.js";
export {
  createServer,
  type GoTaskQServer,
  type InMemoryOperator,
  type ServerDeps,
  type ServerTuning,
} from "./app/server.js";
export {
  createWorkerApp,
  type GoTaskQWorker,
  type WorkerDeps,
  type WorkerTuning,
} from "./app/worker.js";
export { openBroker, openTracking } from "./backends/open.js";
export type { Broker, DeadLetterReason, DeadLetterSelector } from "./broker/broker.js";
export { DEFAULT_CONFIG, type GoTaskQConfig } from "./config/config.js";
export type { BackoffPolicy, CustomBackoff } from "./core/backoff.js";
export { DEFAULT_BACKOFF } from "./core/backoff.js";
export type { TaskEnvelope } from "./core/envelope.js";
export {
  CanceledError,
  type ErrorCode,
  GoTaskQError,
  InvalidArgumentError,
  NotFoundError,
  PermanentError,
  TimeoutError,
  UnavailableError,
} from "./core/errors.js";
export { type Part, type Service, ServiceSequence } from "./core/lifecycle.js";
export { TASK_STATUSES, type TaskStatus } from "./core/status.js";
export type { TaskSubmission } from "./core/submission.js";
export { createLogger, type Logger, silentLogger } from "./logging/logger.js";
export {
  type BatchItemResult,
  Producer,
  type ProducerOptions,
  type SubmittedTask,
} from "./producer/producer.js";
export type { RequeuedTask, RequeueOptions, TrackingReader } from "./producer/requeue.js";
export { defineSchedules, type ScheduleDeclaration } from "./schedules/declared.js";
export type { JsonSchema } from "./tasks/payload-schema.js";
export {
  defineTasks,
  type FunctionDescription,
  type RegisteredTask,
  registryFromModule,
  type TaskContext,
  type TaskDefinition,
  type TaskHandler,
  type TaskLog,
  type TaskOptions,
  TaskRegistry,
} from "./tasks/registry.js";
export { BestEffortWriter, type BestEffortWriterOptions } from "./tracking/best-effort-writer.js";
export { noTracking, type TrackingSink } from "./tracking/tracking-sink.js";
export type {
  TaskErrorInfo,
  TaskEvent,
  TaskLogLine,
  TaskRecord,
  WorkerHeartbeat,
} from "./tracking/tracking-store.js";
export { installSignalHandlers, type SignalHandlerOptions } from "./worker/signals.js";
export { Worker } from "./worker/worker.js";
export type { WorkerOptions } from "./worker/worker-options.js";

import type { TaskService } from "./task-service.js";

// What the CLI's task commands need from GoTaskQ: the TaskService's operations, minus the ones
// only servers use (batch, watch, readiness). Two implementations: the TaskService itself over
// local backends, and the REST client (rest/rest-client.ts) against a remote server, chosen by
// GOTASKQ_API_URL. Picked from TaskService so the two cannot drift apart.

export type TaskOperations = Pick<
  TaskService,
  | "submit"
  | "get"
  | "list"
  | "logs"
  | "cancel"
  | "requeue"
  | "queues"
  | "deadLetters"
  | "requeueDeadLetters"
  | "workers"
  | "functions"
>;

import { existsSync } from "node:fs";
import path from "node:path";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

// The gRPC side of the API phase is built from proto/gotaskq/v1/tasks.proto alone, as a stock
// client would be: the bench's client and its bare grpc-js reference server load the file with
// @grpc/proto-loader and import no code of GoTaskQ's API.

const PROTO_FILE = path.join("proto", "gotaskq", "v1", "tasks.proto");
const SERVICE = "gotaskq.v1.TaskService";

/** The request the bench submits over gRPC: field names are the proto's (keepCase). */
export interface SubmitTaskRequest {
  function_key: string;
  queue: string;
  payload_json: string;
}

/** TaskService as grpc-js wants it, loaded from the proto in the working directory. */
export function loadTaskService(): ServiceDefinition {
  const file = path.resolve(PROTO_FILE);
  if (!existsSync(file)) {
    throw new Error(
      `${file} not found; run the benchmark from the repository root (npm run bench)`,
    );
  }
  const definitions = loadSync(file, {
    keepCase: true,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const service = definitions[SERVICE];
  if (!service || "format" in service) throw new Error(`${file} does not define ${SERVICE}`);
  return service as ServiceDefinition;
}

export function submitTaskMethod(
  service: ServiceDefinition,
): MethodDefinition<SubmitTaskRequest, unknown> {
  const method = service.SubmitTask;
  if (!method) throw new Error(`${SERVICE} has no SubmitTask method`);
  return method as MethodDefinition<SubmitTaskRequest, unknown>;
}

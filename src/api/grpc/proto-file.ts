import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ServiceDefinition } from "@grpc/grpc-js";
import { loadSync, type Options } from "@grpc/proto-loader";

// The .proto is the contract, loaded at run time (no generated code to keep in step with it).
// It ships in the package's `proto/` folder, so it is found by walking up from this module to the
// package root: the same answer from src/ under tsx or vitest, from dist/, and from
// node_modules/gotaskq/dist/ when installed.

export const PROTO_RELATIVE_PATH = path.join("proto", "gotaskq", "v1", "tasks.proto");
export const SERVICE_NAME = "gotaskq.v1.TaskService";

/**
 * How the server decodes messages: wire (snake_case) names, int64 as JS numbers (every int64 in
 * the proto is a millisecond count or a counter, far below 2^53), enums as their names, and no
 * defaults filled in, so an absent `optional` field stays absent and the service applies its own
 * default.
 */
export const LOADER_OPTIONS: Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

/** Absolute path of tasks.proto; throws naming where it looked when the package lacks it. */
export function protoFilePath(
  start: string = path.dirname(fileURLToPath(import.meta.url)),
): string {
  let dir = start;
  for (;;) {
    const candidate = path.join(dir, PROTO_RELATIVE_PATH);
    if (existsSync(path.join(dir, "package.json")) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(
        `${PROTO_RELATIVE_PATH} was not found in any folder above ${start}; the package must ship its proto/ folder`,
      );
    }
    dir = parent;
  }
}

/** The TaskService definition, ready for `server.addService`. */
export function loadTaskServiceDefinition(file: string = protoFilePath()): ServiceDefinition {
  const definitions = loadSync(file, LOADER_OPTIONS);
  const service = definitions[SERVICE_NAME];
  if (service === undefined || !isServiceDefinition(service)) {
    throw new Error(`${file} does not define the service ${SERVICE_NAME}`);
  }
  return service;
}

function isServiceDefinition(value: object): value is ServiceDefinition {
  return !("format" in value) && Object.values(value).every((m) => "requestDeserialize" in m);
}

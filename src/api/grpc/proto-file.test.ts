import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { RPC_OPERATIONS } from "./interceptor.js";
import { loadTaskServiceDefinition, PROTO_RELATIVE_PATH, protoFilePath } from "./proto-file.js";

// The .proto ships in the package's proto/ folder and is found from src/ and dist/ alike.

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

describe("the TaskService proto", () => {
  it("is found from the source tree and from the build output", () => {
    const expected = path.join(root, PROTO_RELATIVE_PATH);
    expect(protoFilePath()).toBe(expected);
    expect(protoFilePath(path.join(root, "dist", "api", "grpc"))).toBe(expected);
  });

  it("says where it looked when the package lacks it", () => {
    expect(() => protoFilePath(tmpdir())).toThrow(/proto\/gotaskq\/v1\/tasks\.proto was not found/);
  });

  it("defines every rpc of gotaskq.v1.TaskService, WatchTask as a server stream", () => {
    const definition = loadTaskServiceDefinition();
    expect(Object.keys(definition).sort()).toEqual(
      [
        "CancelTask",
        "GetTask",
        "GetTaskLogs",
        "ListDeadLetters",
        "ListFunctions",
        "ListQueues",
        "ListTasks",
        "ListWorkers",
        "RequeueDeadLetters",
        "RequeueTask",
        "SubmitTask",
        "SubmitTasks",
        "WatchTask",
        "ListSchedules",
        "GetSchedule",
        "CreateSchedule",
        "PauseSchedule",
        "ResumeSchedule",
        "TriggerSchedule",
        "DeleteSchedule",
      ].sort(),
    );
    // Each rpc needs a row in the interceptor's table, which gives its scope.
    expect(Object.keys(definition).sort()).toEqual(Object.keys(RPC_OPERATIONS).sort());
    expect(definition.WatchTask).toMatchObject({ requestStream: false, responseStream: true });
    expect(definition.SubmitTask?.path).toBe("/gotaskq.v1.TaskService/SubmitTask");
  });
});

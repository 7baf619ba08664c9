import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FULL_KEY, type GrpcStack, startStack } from "./grpc-stack.fixture.js";
import { type Message, StockClient } from "./stock-client.fixture.js";

// gotaskq.v1.TaskService end to end: a stock client built only from the .proto, the real
// server, the TaskService over SQLite broker and tracking, and a worker running the demo
// functions.

let stack: GrpcStack;
let client: StockClient;
const key = { bearer: FULL_KEY };

beforeAll(async () => {
  stack = await startStack({ worker: true });
  client = new StockClient(stack.address);
});

afterAll(async () => {
  client?.close();
  await stack?.close();
});

async function submit(request: Message): Promise<string> {
  const task = await client.call("SubmitTask", request, key);
  return task.id as string;
}

/** GetTask until `done` holds (tracking is eventually consistent), at most 10 s. */
async function until(id: string, done: (task: Message) => boolean): Promise<Message> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const task = await client.call("GetTask", { id }, key).catch(() => undefined);
    if (task && done(task)) return task;
    if (Date.now() > deadline) throw new Error(`task ${id} never reached the expected state`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("gRPC TaskService", () => {
  it("submits a task and watches it to SUCCESS", async () => {
    const submitted = await client.call(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: '[1,"two",{"three":3}]', priority: 0 },
      key,
    );
    expect(submitted).toMatchObject({
      status: "TASK_STATUS_PENDING",
      function_key: "demo.echo",
      queue: "default",
      priority: 0,
    });
    const watched = await client.stream("WatchTask", { id: submitted.id }, key);
    expect(watched.code).toBe(status.OK);
    const last = watched.messages.at(-1);
    expect(last).toMatchObject({ id: submitted.id, status: "TASK_STATUS_SUCCESS" });
    expect(JSON.parse(String(last?.result_json))).toEqual([1, "two", { three: 3 }]);
    expect(JSON.parse(String(last?.payload_json))).toEqual([1, "two", { three: 3 }]);
  });

  it("accepts a batch of 1,000 with two invalid items: 998 ids and two precise errors in place", async () => {
    const tasks: Message[] = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      queue: "batch",
      payload_json: JSON.stringify({ i }),
    }));
    tasks[17] = { function_key: "demo.echo", queue: "batch", priority: 42 };
    tasks[503] = { function_key: "demo.echo", queue: "batch", payload_json: "{not json" };
    const { results } = (await client.call("SubmitTasks", { tasks }, key)) as {
      results: Message[];
    };
    expect(results).toHaveLength(1_000);
    expect(results.filter((r) => r.outcome === "id")).toHaveLength(998);
    expect(results[17]).toEqual({
      outcome: "error",
      error: {
        code: "invalid_argument",
        message: "priority must be an integer between 0 and 9 (got 42)",
        index: 17,
      },
    });
    expect(results[503]?.error).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^payload_json must be JSON text/),
      index: 503,
    });
    expect(results[504]).toMatchObject({ outcome: "id", id: expect.any(String) });
    expect(await stack.enqueued("batch")).toBe(998);
  });

  it("cancels a running demo.sleep: the watch ends with CANCELED", async () => {
    const id = await submit({ function_key: "demo.sleep", payload_json: '{"ms":60000}' });
    let cancel: Promise<Message> | undefined;
    const watched = await client.stream("WatchTask", { id }, key, (task) => {
      if (task.status === "TASK_STATUS_STARTED") cancel ??= client.call("CancelTask", { id }, key);
      return false;
    });
    expect(await cancel).toEqual({ id, status: "CANCEL_REQUESTED" });
    expect(watched.code).toBe(status.OK);
    expect(watched.messages.map((m) => m.status)).toContain("TASK_STATUS_STARTED");
    expect(watched.messages.at(-1)?.status).toBe("TASK_STATUS_CANCELED");
  });

  it("requeues a FAILURE as a fresh run from the dead-letter queue", async () => {
    const id = await submit({
      function_key: "demo.fail",
      payload_json: '{"message":"boom"}',
      max_retries: 0,
    });
    const failed = await until(id, (t) => t.status === "TASK_STATUS_FAILURE");
    expect(failed).toMatchObject({ run: 0, error: { message: "boom" } });
    const requeued = await client.call("RequeueTask", { id }, key);
    expect(requeued).toEqual({
      id,
      queue: "default",
      run: 1,
      source: "dead_letter_queue",
      status: "TASK_STATUS_PENDING",
    });
    const again = await until(id, (t) => t.run === 1 && t.status === "TASK_STATUS_FAILURE");
    expect(again.dead_letter_reason).toBe("retries_exhausted");
  });

  it("answers NOT_FOUND for a task the tracking store does not know", async () => {
    const failure = await client.failure(
      "GetTask",
      { id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" },
      key,
    );
    expect(failure.code).toBe(status.NOT_FOUND);
    expect(failure.details).toMatch(/no task 0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b/);
  });

  it("ends a watch quietly when the client cancels it", async () => {
    const id = await submit({ function_key: "demo.sleep", payload_json: '{"ms":60000}' });
    const watched = await client.stream("WatchTask", { id }, key, () => true);
    expect(watched.code).toBe(status.CANCELLED);
    await client.call("CancelTask", { id }, key);
  });

  it("lists tasks, logs, queues, functions, workers and dead letters", async () => {
    const id = await submit({ function_key: "demo.sleep", payload_json: '{"ms":1}' });
    await until(id, (t) => t.status === "TASK_STATUS_SUCCESS");
    const page = await client.call(
      "ListTasks",
      { status: ["TASK_STATUS_SUCCESS"], function_key: "demo.sleep", limit: 5 },
      key,
    );
    expect((page.tasks as Message[]).map((t) => t.id)).toContain(id);
    const logs = await client.call("GetTaskLogs", { id }, key);
    expect(logs.lines).toEqual([
      expect.objectContaining({ task_id: id, message: "sleeping 1 ms" }),
    ]);
    const { queues } = await client.call("ListQueues", {}, key);
    expect(queues).toContainEqual(expect.objectContaining({ queue: "batch", ready: 998 }));
    const { functions } = await client.call("ListFunctions", {}, key);
    expect(functions).toContainEqual(
      expect.objectContaining({ key: "demo.sleep", schema_json: expect.stringContaining("ms") }),
    );
    const { workers } = await client.call("ListWorkers", {}, key);
    expect(workers).toHaveLength(1);
    const failed = await submit({ function_key: "demo.fail", max_retries: 0 });
    await until(failed, (t) => t.status === "TASK_STATUS_FAILURE");
    const dlq = await client.call("ListDeadLetters", { queue: "default" }, key);
    expect(dlq.entries).toContainEqual(
      expect.objectContaining({
        id: failed,
        function_key: "demo.fail",
        reason: "retries_exhausted",
      }),
    );
    const requeued = await client.call(
      "RequeueDeadLetters",
      { queue: "default", ids: { ids: [failed] } },
      key,
    );
    expect(requeued.requeued).toEqual([
      {
        id: failed,
        queue: "default",
        run: 1,
        source: "dead_letter_queue",
        status: "TASK_STATUS_PENDING",
      },
    ]);
  });

  it("ends open watches with UNAVAILABLE when the server closes", async () => {
    const own = await startStack(); // no worker: the task stays PENDING
    const ownClient = new StockClient(own.address);
    try {
      const { id } = await ownClient.call("SubmitTask", { function_key: "demo.echo" }, key);
      let closing: Promise<void> | undefined;
      const watched = await ownClient.stream("WatchTask", { id }, key, () => {
        closing ??= own.close();
        return false;
      });
      await closing;
      expect(watched.code).toBe(status.UNAVAILABLE);
      expect(watched.details).toMatch(/shutting down; watch the task again/);
    } finally {
      ownClient.close();
      await own.close();
    }
  });
});

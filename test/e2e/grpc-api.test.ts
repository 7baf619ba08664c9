import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Message, StockClient } from "../../src/api/grpc/stock-client.fixture.js";
import { eventually } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// The gRPC API of a real `gotaskq dev` process, driven by a client built only from
// proto/gotaskq/v1/tasks.proto (grpc-js + proto-loader, nothing of this repository).

const OK = 0;
const INVALID_ARGUMENT = 3;
const UNAUTHENTICATED = 16;
const PERMISSION_DENIED = 7;

describe("gRPC API of gotaskq dev", () => {
  let dev: DevServer;
  let client: StockClient;
  let readerKey: string;
  const admin = { bearer: ADMIN_KEY };

  beforeAll(async () => {
    dev = await startDevServer();
    client = new StockClient(dev.grpcAddress);
    readerKey = (
      await dev.box.json<{ key: string }>([
        "keys",
        "create",
        "--name",
        "reader",
        "--scopes",
        "read",
      ])
    ).key;
  });
  afterAll(async () => {
    client?.close();
    await dev.box.cleanup();
  });

  const watchUntil = (id: string, status: string) =>
    client.stream("WatchTask", { id }, admin, (m) => m.status === status || undefined);

  it("submits a task and watches it to SUCCESS", async () => {
    const submitted = await client.call(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: '{"a":1}' },
      admin,
    );
    expect(submitted.status).toBe("TASK_STATUS_PENDING");
    const watched = await client.stream("WatchTask", { id: submitted.id }, { apiKey: ADMIN_KEY });
    expect(watched.code).toBe(OK);
    const last = watched.messages.at(-1) as Message;
    expect(last.status).toBe("TASK_STATUS_SUCCESS");
    expect(JSON.parse(last.result_json as string)).toEqual({ a: 1 });
  });

  it("reads each submission right after its OK: GetTask never answers NOT_FOUND for it", async () => {
    // A batch first, so the tracking writer is busy with a backlog while the singles follow.
    await client.call(
      "SubmitTasks",
      {
        tasks: Array.from({ length: 1_000 }, (_, i) => ({
          function_key: "demo.echo",
          payload_json: JSON.stringify({ i }),
        })),
      },
      admin,
    );
    for (let i = 0; i < 20; i++) {
      const { id } = await client.call("SubmitTask", { function_key: "demo.echo" }, admin);
      const got = await client.call("GetTask", { id }, admin);
      expect(got.id).toBe(id);
      expect(String(got.status)).toMatch(/^TASK_STATUS_(PENDING|STARTED|SUCCESS)$/);
    }
  });

  it("accepts 998 of a batch of 1,000 with 2 invalid items", async () => {
    const tasks: Message[] = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      payload_json: JSON.stringify({ i }),
    }));
    tasks[3] = { function_key: "demo.echo", payload_json: "{not json" };
    tasks[999] = { function_key: "demo.echo", priority: 11 };
    const response = await client.call("SubmitTasks", { tasks }, admin);
    const results = response.results as Array<{ id?: string; error?: { message: string } }>;
    expect(results.filter((r) => r.id).length).toBe(998);
    expect(results[3]?.error?.message).toMatch(/JSON/);
    expect(results[999]?.error?.message).toMatch(
      /priority must be an integer between 0 and 9 \(got 11\)/,
    );
  });

  it("cancels a running task and requeues it", async () => {
    const { id } = await client.call(
      "SubmitTask",
      { function_key: "demo.sleep", payload_json: '{"ms":60000}' },
      admin,
    );
    await watchUntil(id as string, "TASK_STATUS_STARTED");
    await client.call("CancelTask", { id }, admin);
    const canceled = await watchUntil(id as string, "TASK_STATUS_CANCELED");
    expect(canceled.messages.at(-1)?.status).toBe("TASK_STATUS_CANCELED");
    const requeued = await client.call("RequeueTask", { id }, admin);
    expect(requeued.run).toBe(1);
    // The tracked record still shows run 0's CANCELED until run 1's events land: poll for run 1.
    await eventually(
      async () => {
        const task = await client.call("GetTask", { id }, admin);
        return task.run === 1 && task.status === "TASK_STATUS_STARTED" ? task : undefined;
      },
      10_000,
      "run 1 to start",
    );
    await client.call("CancelTask", { id }, admin);
  });

  it("answers the auth matrix with UNAUTHENTICATED and PERMISSION_DENIED", async () => {
    expect(
      (await client.failure("GetTask", { id: "01a21f5b-9170-7c5d-8dae-320f363b5c00" }, undefined))
        .code,
    ).toBe(UNAUTHENTICATED);
    expect((await client.failure("ListQueues", {}, { bearer: "gtq_wrong" })).code).toBe(
      UNAUTHENTICATED,
    );
    const denied = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo" },
      { bearer: readerKey },
    );
    expect(denied.code).toBe(PERMISSION_DENIED);
    expect(denied.details).toMatch(/submit/);
    expect((await client.call("ListQueues", {}, { bearer: readerKey })).queues).toBeDefined();
  });

  it("refuses bad input with INVALID_ARGUMENT and a message that says what to change", async () => {
    const badJson = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: "{" },
      admin,
    );
    expect(badJson.code).toBe(INVALID_ARGUMENT);
    expect(badJson.details).toMatch(/payload_json/);
    const badId = await client.failure("GetTask", { id: "nope" }, admin);
    expect(badId.code).toBe(INVALID_ARGUMENT);
    expect(badId.details).toMatch(/UUID/);
  });
});

import { Client, credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FULL_KEY, type GrpcStack, startStack } from "./grpc-stack.fixture.js";
import { StockClient } from "./stock-client.fixture.js";

// Bad input never crashes the server or reaches the broker: each is refused with the gRPC twin
// of the REST status and a message that says what to change.

const LIMIT = 64 * 1024;
let stack: GrpcStack;
let client: StockClient;
const key = { bearer: FULL_KEY };

beforeAll(async () => {
  stack = await startStack({ maxMessageBytes: LIMIT });
  client = new StockClient(stack.address);
});

afterAll(async () => {
  client?.close();
  await stack?.close();
});

/** Sends raw bytes as a SubmitTask request (what a broken or hostile client could send). */
function rawSubmit(bytes: Buffer): Promise<ServiceError> {
  const raw = new Client(stack.address, credentials.createInsecure());
  const metadata = new Metadata();
  metadata.set("authorization", `Bearer ${FULL_KEY}`);
  return new Promise((resolve, reject) => {
    raw.makeUnaryRequest(
      "/gotaskq.v1.TaskService/SubmitTask",
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      metadata,
      (error) => {
        raw.close();
        if (error) resolve(error);
        else reject(new Error("garbage bytes were accepted"));
      },
    );
  });
}

describe("gRPC bad input", () => {
  it("refuses payload_json that is not JSON with INVALID_ARGUMENT", async () => {
    const failure = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: "{'single': 'quotes'}" },
      key,
    );
    expect(failure.code).toBe(status.INVALID_ARGUMENT);
    expect(failure.details).toMatch(/^payload_json must be JSON text such as/);
  });

  it("refuses a payload nested deeper than 64 levels with INVALID_ARGUMENT", async () => {
    const deep = `${"[".repeat(65)}${"]".repeat(65)}`;
    const failure = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: deep },
      key,
    );
    expect(failure.code).toBe(status.INVALID_ARGUMENT);
    expect(failure.details).toMatch(/nests deeper than 64 levels/);
  });

  it("refuses a message over the size limit with RESOURCE_EXHAUSTED", async () => {
    const big = JSON.stringify({ blob: "x".repeat(LIMIT) });
    const failure = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: big },
      key,
    );
    expect(failure.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(failure.details).toMatch(new RegExp(`larger than max \\(\\d+ vs\\.? ${LIMIT}\\)`));
  });

  it("refuses an invalid task id with INVALID_ARGUMENT", async () => {
    for (const method of ["GetTask", "CancelTask", "RequeueTask", "GetTaskLogs"]) {
      const failure = await client.failure(method, { id: "42; DROP TABLE tasks" }, key);
      expect(failure.code).toBe(status.INVALID_ARGUMENT);
      expect(failure.details).toMatch(/task id must be a lowercase UUID such as/);
    }
    const watch = await client.stream("WatchTask", { id: "nope" }, key);
    expect(watch.code).toBe(status.INVALID_ARGUMENT);
  });

  it("refuses a missing function key, an unknown one and out-of-range fields", async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ payload_json: "{}" }, /function_key is required/],
      [{ function_key: "no.such.function" }, /no\.such\.function/],
      [
        { function_key: "demo.echo", max_retries: -1 },
        /max_retries must be an integer between 0 and 100 \(got -1\)/,
      ],
      [{ function_key: "demo.echo", backoff: {} }, /backoff must set either exponential/],
      [{ function_key: "demo.sleep", payload_json: '{"ms":"soon"}' }, /ms/],
    ];
    for (const [request, message] of cases) {
      const failure = await client.failure("SubmitTask", request, key);
      expect(failure.code, JSON.stringify(request)).toBe(status.INVALID_ARGUMENT);
      expect(failure.details).toMatch(message);
    }
  });

  it("refuses an unspecified status filter with INVALID_ARGUMENT", async () => {
    const failure = await client.failure("ListTasks", { status: ["TASK_STATUS_UNSPECIFIED"] }, key);
    expect(failure.code).toBe(status.INVALID_ARGUMENT);
    expect(failure.details).toMatch(/use TASK_STATUS_PENDING, TASK_STATUS_STARTED/);
  });

  it("refuses bytes that are not a protobuf message with INVALID_ARGUMENT, not INTERNAL", async () => {
    const failure = await rawSubmit(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(failure.code).toBe(status.INVALID_ARGUMENT);
    expect(failure.details).toMatch(/not a valid gotaskq\.v1\.SubmitTaskRequest protobuf message/);
  });

  it("refuses an empty or oversize batch as a whole", async () => {
    const empty = await client.failure("SubmitTasks", { tasks: [] }, key);
    expect(empty.code).toBe(status.INVALID_ARGUMENT);
    expect(empty.details).toMatch(/a batch must hold 1 to 1000 tasks \(got 0\)/);
    const tasks = Array.from({ length: 1_001 }, () => ({ function_key: "demo.echo" }));
    const tooMany = await client.failure("SubmitTasks", { tasks }, key);
    expect(tooMany.code).toBe(status.INVALID_ARGUMENT);
    expect(tooMany.details).toMatch(/got 1001/);
  });

  it("enqueued nothing and still serves", async () => {
    expect(await stack.enqueued()).toBe(0);
    expect(await client.call("ListQueues", {}, key)).toBeDefined();
  });
});

describe("gRPC payload limit below the message limit", () => {
  let small: GrpcStack;
  let smallClient: StockClient;

  beforeAll(async () => {
    small = await startStack({ maxMessageBytes: LIMIT, maxPayloadBytes: 1_000 });
    smallClient = new StockClient(small.address);
  });

  afterAll(async () => {
    smallClient?.close();
    await small?.close();
  });

  it("refuses a payload over the producer's limit with RESOURCE_EXHAUSTED and the limit", async () => {
    const failure = await smallClient.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: JSON.stringify({ s: "x".repeat(2_000) }) },
      key,
    );
    expect(failure.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(failure.details).toMatch(/payload is 2008 bytes; the limit is 1000 bytes/);
    expect(await small.enqueued()).toBe(0);
  });
});

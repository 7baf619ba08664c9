import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FULL_KEY, type GrpcStack, startStack } from "./grpc-stack.fixture.js";
import { StockClient } from "./stock-client.fixture.js";

// Idempotency keys and unique tasks through gRPC, with a stock client built from the .proto
// (the new fields are 12 and 13 on SubmitTaskRequest, 10 on SubmittedTask, 3 on the result).

let stack: GrpcStack;
let client: StockClient;
const key = { bearer: FULL_KEY };

beforeAll(async () => {
  stack = await startStack();
  client = new StockClient(stack.address);
});

afterAll(async () => {
  client?.close();
  await stack?.close();
});

describe("gRPC idempotent submission", () => {
  it("answers the first task's id with duplicate = true for a repeat", async () => {
    const request = {
      function_key: "demo.echo",
      payload_json: '{"a":1}',
      idempotency_key: "grpc-1",
      idempotency_ttl_ms: 60_000,
    };
    const first = await client.call("SubmitTask", request, key);
    const again = await client.call("SubmitTask", request, key);
    expect(first.duplicate ?? false).toBe(false);
    expect(again).toMatchObject({ id: first.id, duplicate: true });
  });

  it("refuses a reused key with ALREADY_EXISTS and says what to change", async () => {
    await client.call("SubmitTask", { function_key: "demo.echo", idempotency_key: "grpc-2" }, key);
    const failure = await client.failure(
      "SubmitTask",
      { function_key: "demo.echo", payload_json: '{"b":2}', idempotency_key: "grpc-2" },
      key,
    );
    expect(failure.code).toBe(status.ALREADY_EXISTS);
    expect(failure.details).toMatch(/use a new key/);
  });

  it("marks duplicates per item in SubmitTasks, and takes unique options", async () => {
    const unique = { key: "{{payload.user}}", until: "started" };
    const answer = await client.call(
      "SubmitTasks",
      {
        tasks: [
          { function_key: "demo.echo", payload_json: '{"user":1,"n":1}', unique },
          { function_key: "demo.echo", payload_json: '{"user":1,"n":2}', unique },
          { function_key: "demo.echo", payload_json: '{"n":3}', unique },
        ],
      },
      key,
    );
    const results = answer.results as Array<Record<string, unknown>>;
    expect(results[0]?.duplicate ?? false).toBe(false);
    expect(results[1]).toMatchObject({ id: results[0]?.id, duplicate: true });
    expect(results[2]).toMatchObject({ error: { code: "invalid_argument", index: 2 } });
    const refused = results[2]?.error as { message?: string } | undefined;
    expect(String(refused?.message)).toMatch(/add payload.user to the payload/);
  });
});

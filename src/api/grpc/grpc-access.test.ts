import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenBucketLimiter } from "../rate-limiter.js";
import { FULL_KEY, type GrpcStack, startStack } from "./grpc-stack.fixture.js";
import { StockClient } from "./stock-client.fixture.js";

// Access control happens in a server interceptor, before any handler: UNAUTHENTICATED without
// a key or with a wrong or revoked one, PERMISSION_DENIED without the scope, RESOURCE_EXHAUSTED
// over the key's rate limit. A rejected submission enqueues nothing.

let stack: GrpcStack;
let client: StockClient;
let clock = 0;
const echo = { function_key: "demo.echo", payload_json: "{}" };
const unknownId = { id: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };

beforeAll(async () => {
  // 3 requests at once per key, refilled at 1/s on a clock the tests move.
  const rateLimiter = new TokenBucketLimiter({ ratePerSecond: 1, burst: 3, now: () => clock });
  stack = await startStack({ rateLimiter });
  client = new StockClient(stack.address);
});

afterAll(async () => {
  client?.close();
  await stack?.close();
});

describe("gRPC access control", () => {
  it("refuses a call without a key: UNAUTHENTICATED, saying how to send one", async () => {
    const failure = await client.failure("SubmitTask", echo, undefined);
    expect(failure.code).toBe(status.UNAUTHENTICATED);
    expect(failure.details).toMatch(/missing API key: send Authorization: Bearer <key>/);
  });

  it("refuses a wrong key: UNAUTHENTICATED", async () => {
    for (const key of [{ bearer: "gtq_not-a-real-key" }, { apiKey: "wrong" }]) {
      const failure = await client.failure("SubmitTask", echo, key);
      expect(failure.code).toBe(status.UNAUTHENTICATED);
      expect(failure.details).toMatch(/invalid API key/);
    }
  });

  it("refuses a key without the scope: PERMISSION_DENIED, naming the scope", async () => {
    clock += 10_000;
    const failure = await client.failure("SubmitTask", echo, { apiKey: stack.readKey });
    expect(failure.code).toBe(status.PERMISSION_DENIED);
    expect(failure.details).toMatch(/lacks the "submit" scope/);
    const cancel = await client.failure("CancelTask", unknownId, { bearer: stack.readKey });
    expect(cancel.code).toBe(status.PERMISSION_DENIED);
    expect(cancel.details).toMatch(/lacks the "admin" scope/);
  });

  it("lets a read key read, through either metadata key", async () => {
    clock += 10_000;
    const viaBearer = await client.failure("GetTask", unknownId, { bearer: stack.readKey });
    expect(viaBearer.code).toBe(status.NOT_FOUND);
    const viaHeader = await client.call("ListQueues", {}, { apiKey: stack.readKey });
    expect(viaHeader).toBeDefined();
  });

  it("refuses a key over its rate limit with RESOURCE_EXHAUSTED and a retry-after trailer", async () => {
    clock += 10_000;
    const key = { bearer: FULL_KEY };
    for (let i = 0; i < 3; i++) await client.call("ListQueues", {}, key);
    const failure = await client.failure("ListQueues", {}, key);
    expect(failure.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(failure.details).toMatch(/over its rate limit of 1 requests\/s; retry in 1 s/);
    expect(failure.metadata.get("retry-after")).toEqual(["1"]);
    clock += 1_000;
    await client.call("ListQueues", {}, key);
  });

  it("refuses a revoked key: UNAUTHENTICATED", async () => {
    clock += 10_000;
    await stack.revokeReadKey();
    const failure = await client.failure("ListQueues", {}, { bearer: stack.readKey });
    expect(failure.code).toBe(status.UNAUTHENTICATED);
  });

  it("enqueued nothing for any rejected submission", async () => {
    expect(await stack.enqueued()).toBe(0);
  });
});

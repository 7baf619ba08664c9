import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StockClient } from "../../src/api/grpc/stock-client.fixture.js";
import { eventually } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";
import { deleteKeys, testPrefix, trackingKeys } from "../support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../support/services.js";

// `gotaskq dev` with GOTASKQ_TRACKING_URL=redis://… (the shared Redis, a prefix of this run):
// the REST and gRPC reads (get, list with filters, text search and cursor, logs, workers) work
// on the Redis store exactly as on SQLite, and `gotaskq status` / `list` read it too.

const available = await serviceAvailable("redis");
const prefix = testPrefix("api");

describe.skipIf(!available)("gotaskq dev on the Redis tracking store", () => {
  let dev: DevServer;
  let grpc: StockClient;
  const admin = { bearer: ADMIN_KEY };

  beforeAll(async () => {
    dev = await startDevServer({
      GOTASKQ_TRACKING_URL: `${SERVICES.redis.url}?prefix=${prefix}&retention=1d`,
    });
    grpc = new StockClient(dev.grpcAddress);
  });
  afterAll(async () => {
    grpc?.close();
    await dev?.box.cleanup();
    await deleteKeys(SERVICES.redis.url, trackingKeys(prefix));
  });

  const statusOf = (id: string, status: string) =>
    eventually(
      async () => {
        const r = await dev.api(`/v1/tasks/${id}`);
        return r.status === 200 && (r.json as { status: string }).status === status
          ? (r.json as Record<string, unknown>)
          : undefined;
      },
      20_000,
      `task ${id} to reach ${status}`,
    );

  it("tracks tasks submitted over REST and answers get, filtered lists, search and logs", async () => {
    const submit = async (body: unknown) => {
      const r = await dev.api("/v1/tasks", { body });
      expect(r.status).toBe(202);
      return (r.json as { id: string }).id;
    };
    const sleeps = [
      await submit({ function_key: "demo.sleep", payload: { ms: 1 } }),
      await submit({ function_key: "demo.sleep", payload: { ms: 2 } }),
      await submit({ function_key: "demo.sleep", payload: { ms: 3 } }),
    ];
    const failed = await submit({
      function_key: "demo.fail",
      payload: { message: "Disk FULL on node-7" },
      max_retries: 0,
    });
    for (const id of sleeps) await statusOf(id, "SUCCESS");
    const failure = await statusOf(failed, "FAILURE");
    expect(failure).toMatchObject({
      function_key: "demo.fail",
      dead_letter_reason: "retries_exhausted",
      error: expect.objectContaining({ message: "Disk FULL on node-7" }),
    });

    const first = await dev.api("/v1/tasks?status=SUCCESS&function_key=demo.sleep&limit=2");
    expect(first.status).toBe(200);
    const page1 = first.json as { tasks: Array<{ id: string }>; next_cursor?: string };
    expect(page1.tasks.map((t) => t.id)).toEqual([sleeps[2], sleeps[1]]);
    const second = await dev.api(
      `/v1/tasks?status=SUCCESS&function_key=demo.sleep&limit=2&cursor=${encodeURIComponent(page1.next_cursor as string)}`,
    );
    expect((second.json as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id)).toEqual([
      sleeps[0],
    ]);
    const search = await dev.api("/v1/tasks?q=disk%20full&queue=default");
    expect((search.json as { tasks: Array<{ id: string }> }).tasks.map((t) => t.id)).toEqual([
      failed,
    ]);
    const logs = await dev.api(`/v1/tasks/${sleeps[0]}/logs`);
    expect((logs.json as { lines: unknown[] }).lines).toEqual([
      expect.objectContaining({ attempt: 0, level: "info", message: "sleeping 1 ms" }),
    ]);
    const workers = await dev.api("/v1/workers");
    expect((workers.json as { workers: unknown[] }).workers).toHaveLength(1);
    expect((await dev.api("/v1/tasks?cursor=bogus")).status).toBe(400);

    // The CLI's reads go to the same store.
    const status = await dev.box.json<{ status: string }>(["status", failed]);
    expect(status.status).toBe("FAILURE");
  });

  it("answers gRPC GetTask, ListTasks and GetTaskLogs from the Redis store", async () => {
    const { id } = await grpc.call(
      "SubmitTask",
      { function_key: "demo.sleep", payload_json: '{"ms":5}' },
      admin,
    );
    await statusOf(id as string, "SUCCESS");
    const task = await grpc.call("GetTask", { id }, admin);
    expect(task).toMatchObject({ id, status: "TASK_STATUS_SUCCESS", function_key: "demo.sleep" });
    const list = await grpc.call(
      "ListTasks",
      { status: ["TASK_STATUS_SUCCESS"], q: String(id).slice(-12), limit: 5 },
      admin,
    );
    expect((list.tasks as Array<{ id: string }>).map((t) => t.id)).toEqual([id]);
    const logs = await grpc.call("GetTaskLogs", { id }, admin);
    expect(logs.lines).toEqual([expect.objectContaining({ message: "sleeping 5 ms" })]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Message, StockClient } from "../../src/api/grpc/stock-client.fixture.js";
import { eventually } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// The schedule rpcs of a real `gotaskq dev`, through a client built only from the .proto.

const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const PERMISSION_DENIED = 7;

describe("schedules over gRPC", () => {
  let dev: DevServer;
  let client: StockClient;
  const admin = { bearer: ADMIN_KEY };

  beforeAll(async () => {
    dev = await startDevServer();
    client = new StockClient(dev.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await dev?.box.cleanup();
  });

  it("creates, lists, pauses, triggers and deletes a schedule", async () => {
    const created = await client.call(
      "CreateSchedule",
      {
        schedule: {
          id: "grpc-beat",
          function_key: "demo.echo",
          cron: "0 12 * * 1-5",
          timezone: "America/New_York",
          payload_json: '{"from":"grpc"}',
          missed: "catch_up",
        },
      },
      admin,
    );
    expect((created.spec as Message).id).toBe("grpc-beat");
    expect(created.next_runs).toHaveLength(3);
    const listed = await client.call("ListSchedules", {}, admin);
    expect((listed.schedules as Message[]).map((s) => (s.spec as Message).id)).toEqual([
      "grpc-beat",
    ]);

    const paused = await client.call("PauseSchedule", { id: "grpc-beat" }, admin);
    expect((paused.spec as Message).paused).toBe(true);
    expect(paused.next_runs ?? []).toEqual([]);

    const task = await client.call("TriggerSchedule", { id: "grpc-beat" }, admin);
    const history = await eventually(
      async () => {
        const page = await client.call("ListTasks", { schedule: "grpc-beat" }, admin);
        const tasks = page.tasks as Message[] | undefined;
        return tasks?.some((t) => t.id === task.id && t.status === "TASK_STATUS_SUCCESS")
          ? tasks
          : undefined;
      },
      10_000,
      "the triggered task to succeed",
    );
    expect(history).toHaveLength(1);

    expect(await client.call("DeleteSchedule", { id: "grpc-beat" }, admin)).toMatchObject({
      removed: true,
    });
    expect((await client.failure("GetSchedule", { id: "grpc-beat" }, admin)).code).toBe(NOT_FOUND);
  });

  it("refuses bad schedules with INVALID_ARGUMENT naming what to change, and stores nothing", async () => {
    const cases: Array<[Message, RegExp]> = [
      [{ id: "x", function_key: "demo.echo", cron: "* * *" }, /has 3 fields/],
      [{ id: "x", function_key: "demo.echo", every: "0s" }, /every must be at least 1s/],
      [
        { id: "x", function_key: "demo.echo", cron: "0 3 * * *", timezone: "Nowhere/City" },
        /not an IANA time zone/,
      ],
      [{ id: "x", function_key: "demo.nope", every: "1s" }, /unknown function_key "demo.nope"/],
    ];
    for (const [schedule, message] of cases) {
      const failure = await client.failure("CreateSchedule", { schedule }, admin);
      expect(failure.code).toBe(INVALID_ARGUMENT);
      expect(failure.details).toMatch(message);
    }
    const listed = await client.call("ListSchedules", {}, admin);
    expect(listed.schedules ?? []).toEqual([]);
  });

  it("needs the admin scope to change schedules", async () => {
    const reader = (
      await dev.box.json<{ key: string }>([
        "keys",
        "create",
        "--name",
        "sched-reader",
        "--scopes",
        "read",
      ])
    ).key;
    await client.call("ListSchedules", {}, { bearer: reader });
    const denied = await client.failure(
      "CreateSchedule",
      { schedule: { id: "y", function_key: "demo.echo", every: "1h" } },
      { bearer: reader },
    );
    expect(denied.code).toBe(PERMISSION_DENIED);
  });
});

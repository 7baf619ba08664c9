import { afterEach, describe, expect, it } from "vitest";
import type { Broker, PresenceCommand } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { createMemoryCoordinationStore } from "../coordination/memory/memory-coordination-store.js";
import { UnknownFunctionError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { defineTasks } from "../tasks/registry.js";
import { LiveFunctions } from "./live-functions.js";
import { ScheduleService } from "./schedule-service.js";
import { TaskService } from "./task-service.js";

// What an API server hears of live workers on the broker's control channel, and what its
// producer and service then accept: its own keys, keys a live worker runs on the queue, nothing
// else, with a start-up window during which an unknown key waits for the workers' beats.

const brokers: Broker[] = [];
const lives: LiveFunctions[] = [];
afterEach(async () => {
  await Promise.all(lives.splice(0).map((l) => l.stop()));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

function beat(functions: string[], over: Partial<PresenceCommand> = {}): PresenceCommand {
  return {
    type: "presence",
    workerId: "w1",
    queues: ["default"],
    functions,
    ttlMs: 15_000,
    at: Date.now(),
    ...over,
  };
}

async function setUp(presenceIntervalMs = 100) {
  const broker = createMemoryBroker();
  brokers.push(broker);
  let now = 1_000_000;
  const clock = { advance: (ms: number) => (now += ms) };
  const live = new LiveFunctions({
    control: broker.control,
    logger: silentLogger(),
    presenceIntervalMs,
    now: () => now,
  });
  lives.push(live);
  await live.start();
  const registry = defineTasks({ "demo.echo": (p: unknown) => p });
  const logger = silentLogger();
  const producer = new Producer({ broker, logger, registry, otherFunctions: live });
  const service = new TaskService({
    producer,
    broker,
    tracking: {} as never,
    logger,
    registry,
    liveFunctions: live,
  });
  const heard = async (command: PresenceCommand) => {
    await broker.control.broadcast(command);
    await new Promise((r) => setTimeout(r, 20));
  };
  return { broker, live, producer, service, clock, heard };
}

describe("LiveFunctions", () => {
  it("accepts a key a live worker runs on the submission's queue, with no schema of its own", async () => {
    const { service, heard } = await setUp();
    await heard(beat(["text.upper"]));
    const task = await service.submit({ function_key: "text.upper", payload: [1] });
    expect(task.status).toBe("PENDING");
    expect((await service.functions()).map((f) => f.key)).toEqual(["demo.echo", "text.upper"]);
  });

  it("refuses (422) a key nobody runs, naming it and the nearby keys", async () => {
    const { producer, heard } = await setUp();
    await heard(beat(["text.upper"]));
    const error = await producer.submit({ function_key: "text.uper" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownFunctionError);
    expect((error as Error).message).toBe(
      'unknown function_key "text.uper"; did you mean "text.upper"? (registered functions: demo.echo, text.upper; no live worker registers "text.uper" either)',
    );
  });

  it("takes a schedule for a live worker's key, and refuses one for a key nobody runs", async () => {
    const { producer, live, heard } = await setUp();
    await heard(beat(["report.build"]));
    const coordination = createMemoryCoordinationStore();
    const schedules = new ScheduleService({
      coordination: async () => coordination,
      producer,
      tracking: {} as never,
      registry: defineTasks({ "demo.echo": (p: unknown) => p }),
      liveFunctions: live,
      maxPayloadBytes: 1_000,
    });
    const every = { every: "1h", payload: { any: "thing" } };
    const created = await schedules.create({
      id: "nightly",
      function_key: "report.build",
      ...every,
    });
    expect(created.function_key).toBe("report.build");
    await expect(
      schedules.create({ id: "typo", function_key: "report.buld", ...every }),
    ).rejects.toBeInstanceOf(UnknownFunctionError);
    await coordination.close();
  });

  it("refuses a key live workers run only on other queues, naming them", async () => {
    const { producer, heard } = await setUp();
    await heard(beat(["image.resize"], { queues: ["images", "bulk"] }));
    await expect(producer.submit({ function_key: "image.resize" })).rejects.toThrow(
      'function_key "image.resize" is run by live workers on queue bulk, images, none on "default": set "queue" to one of those',
    );
    const task = await producer.submit({ function_key: "image.resize", queue: "images" });
    expect(task.status).toBe("PENDING");
  });

  it("forgets a worker once the ttl of its last beat has passed, or when it says ttl 0", async () => {
    const { live, clock, heard } = await setUp();
    await heard(beat(["a.b"]));
    await heard(beat(["c.d"], { workerId: "w2" }));
    clock.advance(14_999);
    expect(live.keys()).toEqual(["a.b", "c.d"]);
    await heard(beat([], { workerId: "w2", ttlMs: 0 }));
    expect(live.keys()).toEqual(["a.b"]);
    clock.advance(1);
    expect(live.runs("a.b", "default")).toBe(false);
  });

  it("in its start-up window, holds a submission of an unknown key until a beat names it", async () => {
    const { service, broker } = await setUp(60_000);
    const pending = service.submit({ function_key: "late.worker" });
    await new Promise((r) => setTimeout(r, 50));
    await broker.control.broadcast(beat(["late.worker"]));
    expect((await pending).status).toBe("PENDING");
    // The registry's own keys never wait.
    expect((await service.submit({ function_key: "demo.echo" })).status).toBe("PENDING");
  });

  it("refuses an unknown key once the start-up window ends without a beat naming it", async () => {
    const broker = createMemoryBroker();
    brokers.push(broker);
    const live = new LiveFunctions({
      control: broker.control,
      logger: silentLogger(),
      presenceIntervalMs: 100,
    });
    lives.push(live);
    await live.start();
    const started = Date.now();
    await live.settle(["nobody.runs"], () => false);
    // One interval plus the 500 ms margin.
    expect(Date.now() - started).toBeGreaterThanOrEqual(550);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

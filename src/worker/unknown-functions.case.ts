import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { CollectingSink } from "../../test/support/collecting-sink.js";
import type { Broker } from "../broker/broker.js";
import type { Logger } from "../logging/logger.js";
import { silentLogger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import { defineTasks, type TaskRegistry } from "../tasks/registry.js";
import { Worker } from "./worker.js";

// Two workers of different registries on one queue, over a real broker, each with its own client
// as separate processes would have: a task whose function one worker does not register is handed
// back to the broker until the worker that registers it runs it (no attempt counted, nothing
// dead-lettered), and a function no live worker registers is dead-lettered exactly once. Shared by
// every broker: unknown-functions.test.ts runs it on memory, SQLite, Redis and SQS, and
// rabbitmq-broker.test.ts on RabbitMQ (every RabbitMQ test lives in that one file).

export interface UnknownFunctionsHarness {
  /** A new client on the harness's namespace. */
  open(): Promise<Broker>;
  cleanup?(): Promise<void>;
}

const PRESENCE_MS = 100;

/** Debug lines of a worker, parsed, to see its hand-backs. */
function capturingLogger(lines: Array<Record<string, unknown>>): Logger {
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return pino({ level: "debug" }, stream);
}

export function describeUnknownFunctions(
  name: string,
  makeHarness: () => Promise<UnknownFunctionsHarness>,
  options: { timeoutMs?: number } = {},
): void {
  const timeoutMs = options.timeoutMs ?? 10_000;

  describe(`unknown function keys on ${name}`, () => {
    let harness: UnknownFunctionsHarness | undefined;
    const brokers: Broker[] = [];
    const workers: Worker[] = [];
    const sink = new CollectingSink();
    const queue = `uk-${randomBytes(4).toString("hex")}`;
    /** Which worker ran each task id, once per run. */
    const ran: Array<[string, string]> = [];

    afterEach(async () => {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await Promise.all(brokers.splice(0).map((b) => b.close()));
      await harness?.cleanup?.();
      harness = undefined;
      sink.events.length = 0;
      ran.length = 0;
    });

    async function client(): Promise<Broker> {
      harness ??= await makeHarness();
      const broker = await harness.open();
      brokers.push(broker);
      return broker;
    }

    async function worker(
      label: string,
      registry: TaskRegistry,
      concurrency: number,
      logger: Logger = silentLogger(),
    ): Promise<Worker> {
      const w = new Worker({
        broker: await client(),
        registry,
        tracking: sink,
        logger,
        queues: [queue],
        concurrency,
        workerId: `worker-${label}`,
        presenceIntervalMs: PRESENCE_MS,
        handBackDelayMs: 20,
        leaseMs: 5_000,
        graceMs: 100,
        shutdownGraceMs: 2_000,
        heartbeatIntervalMs: 1_000,
        timeoutMs: 2_000,
      });
      workers.push(w);
      await w.start();
      return w;
    }

    const registryOf = (label: string, key: string, ms = 0) =>
      defineTasks({
        [key]: async (_payload: unknown, ctx: { taskId: string }) => {
          ran.push([ctx.taskId, label]);
          if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
          return label;
        },
      });

    async function submit(producer: Producer, key: string, count: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) {
        ids.push((await producer.submit({ function_key: key, queue, payload: { i } })).id);
      }
      return ids;
    }

    async function succeeded(ids: readonly string[]): Promise<void> {
      const done = (id: string) => sink.eventsOf(id).some((e) => e.status === "SUCCESS");
      try {
        await sink.waitUntil(() => ids.every(done), `SUCCESS of ${ids.length} tasks`, timeoutMs);
      } catch (error) {
        const missing = ids.filter((id) => !done(id)).map((id) => `${id}: ${sink.trail(id)}`);
        throw new Error(`${(error as Error).message}; not done: ${missing.join("; ")}`);
      }
    }

    it("runs every task on the worker that registers it; none is dead-lettered or charged an attempt", async () => {
      const producer = new Producer({
        broker: await client(),
        tracking: sink,
        logger: silentLogger(),
      });
      const aLines: Array<Record<string, unknown>> = [];
      await worker("A", registryOf("A", "a.job"), 4, capturingLogger(aLines));
      // B is slow and narrow, so A keeps receiving B's tasks while B is busy.
      await worker("B", registryOf("B", "b.job", 20), 2);
      const firstB = await submit(producer, "b.job", 20);
      const firstA = await submit(producer, "a.job", 10);
      await succeeded([...firstA, ...firstB]);
      // Again once both are surely past their start-up window.
      const laterB = await submit(producer, "b.job", 10);
      const laterA = await submit(producer, "a.job", 10);
      await succeeded([...laterA, ...laterB]);

      const aIds = new Set([...firstA, ...laterA]);
      const bIds = new Set([...firstB, ...laterB]);
      // Each task ran once, on the worker that knows it.
      expect(ran).toHaveLength(aIds.size + bIds.size);
      for (const [id, label] of ran) expect(label).toBe(aIds.has(id) ? "A" : "B");
      expect(new Set(ran.map(([id]) => id)).size).toBe(ran.length);
      // Nothing failed, nothing was retried: every event is of run 0, attempt 0.
      const events = sink.events.filter((e) => aIds.has(e.taskId) || bIds.has(e.taskId));
      expect(events.filter((e) => e.status === "FAILURE")).toEqual([]);
      expect(new Set(events.map((e) => `${e.run}.${e.attempt}`))).toEqual(new Set(["0.0"]));
      for (const id of bIds) {
        expect(sink.trail(id).sort()).toEqual(["PENDING@0.0", "STARTED@0.0", "SUCCESS@0.0"]);
      }
      expect((await brokers[0]?.deadLetters(queue).list({ limit: 10 }))?.entries).toEqual([]);
      // A did hand B's tasks back, because B runs them.
      const handedBack = aLines.filter((l) => l.event === "handed_back");
      expect(handedBack.every((l) => typeof l.task_id === "string" && bIds.has(l.task_id))).toBe(
        true,
      );
      expect(handedBack.some((l) => l.reason === "worker worker-B runs it")).toBe(true);
    });

    it("dead-letters a function key no live worker registers, exactly once", async () => {
      const producer = new Producer({
        broker: await client(),
        tracking: sink,
        logger: silentLogger(),
      });
      await worker("A", registryOf("A", "a.job"), 2);
      await worker("B", registryOf("B", "b.job"), 2);
      const [orphan] = await submit(producer, "nobody.job", 1);
      const [known] = await submit(producer, "b.job", 1);
      const failed = await sink.waitForStatus(orphan as string, "FAILURE", { timeoutMs });
      expect(failed).toMatchObject({ deadLetterReason: "unknown_function", attempt: 0 });
      expect(failed.error?.message).toMatch(
        /no function "nobody.job" is registered on worker worker-[AB] .* nor on any other live worker consuming queue/,
      );
      await succeeded([known as string]);
      // Several presence intervals later it is still dead-lettered once, and nowhere else.
      await new Promise((resolve) => setTimeout(resolve, 3 * PRESENCE_MS));
      const entries = (await brokers[0]?.deadLetters(queue).list({ limit: 10 }))?.entries ?? [];
      expect(entries.map((e) => [e.id, e.reason])).toEqual([[orphan, "unknown_function"]]);
      expect(sink.eventsOf(orphan as string).filter((e) => e.status === "FAILURE")).toHaveLength(1);
      expect(ran.map(([, label]) => label)).toEqual(["B"]);
    });
  });
}

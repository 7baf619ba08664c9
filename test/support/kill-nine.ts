import { expect } from "vitest";
import type { Broker } from "../../src/broker/broker.js";
import { silentLogger } from "../../src/logging/logger.js";
import { Producer } from "../../src/producer/producer.js";
import type { TaskRecord, TrackingStore } from "../../src/tracking/tracking-store.js";
import { eventually, type Sandbox } from "./cli.js";

// The kill -9 fault, once for every broker: submit tasks, start a process that runs them, SIGKILL
// it while it holds tasks in flight, start another one, and wait until every accepted task has
// finished. What differs between brokers is a parameter: how tasks are submitted, which process
// runs them (`gotaskq dev`, `gotaskq worker`), how to see that the victim is busy and that all
// is done, and how long each may take. The printed counts and their assertions stay in each test,
// since each broker promises something slightly different about repeats.

export type CliProcess = Awaited<ReturnType<Sandbox["start"]>>;

/** Polls `probe` until it gives a value, for at most `timeoutMs`; `what` names it in the failure. */
export interface Wait<T> {
  what: string;
  timeoutMs: number;
  probe(ids: string[], victim: CliProcess): Promise<T | undefined>;
}

export interface KillNineScenario<Finished> {
  /** Submits the tasks; one id per task, "" for a task that was not accepted. */
  submit(): Promise<string[]>;
  /** Starts a process that runs the tasks and resolves once it is ready. Called twice. */
  start(): Promise<CliProcess>;
  /** When the victim holds enough tasks in flight to be killed. */
  busy: Wait<true>;
  /** Looks at what the dead victim left, before the heir starts (e.g. the broker's counts). */
  afterKill?(victim: CliProcess): Promise<void>;
  /** When every accepted task has finished; its value is what the test counts from. */
  finished: Wait<Finished>;
}

export interface KillNineOutcome<Finished> {
  ids: string[];
  victim: CliProcess;
  heir: CliProcess;
  finished: Finished;
}

export async function killNine<Finished>(
  scenario: KillNineScenario<Finished>,
): Promise<KillNineOutcome<Finished>> {
  const ids = await scenario.submit();
  const victim = await scenario.start();
  const { busy, finished } = scenario;
  await eventually(() => busy.probe(ids, victim), busy.timeoutMs, busy.what);
  victim.kill("SIGKILL");
  await new Promise((resolve) => victim.once("exit", resolve));
  await scenario.afterKill?.(victim);
  const heir = await scenario.start();
  const done = await eventually(() => finished.probe(ids, heir), finished.timeoutMs, finished.what);
  return { ids, victim, heir, finished: done };
}

/**
 * The scenario run by `gotaskq dev` in `box`: `count` demo.sleep tasks of a little over 3 s
 * (each its own length) submitted through a Producer on `broker`, watched in `tracking`. The
 * victim is busy once all of them are STARTED; all is done once all are SUCCESS, and the
 * finished value is their tracking records, in submission order. Every task must be accepted.
 */
export function devSleepScenario(
  options: {
    box: Sandbox;
    broker: Broker;
    tracking: TrackingStore;
    count: number;
    afterKill?: (victim: CliProcess) => Promise<void>;
  },
  /** How long all tasks may take to be STARTED on the victim, then to reach SUCCESS. */
  withinMs: { started: number; finished: number },
): KillNineScenario<(TaskRecord | undefined)[]> {
  const { box, broker, tracking, count } = options;
  const records = (ids: string[]) => Promise.all(ids.map((id) => tracking.get(id)));
  return {
    async submit() {
      const producer = new Producer({ broker, logger: silentLogger() });
      const results = await producer.submitBatch(
        Array.from({ length: count }, (_, i) => ({
          function_key: "demo.sleep",
          payload: { ms: 3_000 + i },
        })),
      );
      const ids = results.map((r) => (r.ok ? r.task.id : ""));
      expect(ids.every(Boolean)).toBe(true);
      return ids;
    },
    start: () => box.start(["dev"], { readyText: "Stop with Ctrl+C" }),
    busy: {
      what: `${count} tasks STARTED`,
      timeoutMs: withinMs.started,
      probe: async (ids) =>
        (await records(ids)).filter((r) => r?.status === "STARTED").length === count
          ? true
          : undefined,
    },
    afterKill: options.afterKill,
    finished: {
      what: "every task to reach SUCCESS",
      timeoutMs: withinMs.finished,
      probe: async (ids) => {
        const found = await records(ids);
        return found.every((r) => r?.status === "SUCCESS") ? found : undefined;
      },
    },
  };
}

/**
 * What a `devSleepScenario` run counts, from its finished records: a task whose tracking record
 * saw more than one delivery ran again after the kill.
 */
export function trackedCounts(ids: string[], records: readonly (TaskRecord | undefined)[]) {
  const executed = records.filter((r) => r?.status === "SUCCESS").length;
  return {
    submitted: ids.length,
    accepted: ids.filter(Boolean).length,
    executed,
    lost: ids.length - executed,
    redelivered: records.filter((r) => (r?.deliveryCount ?? 1) > 1).length,
  };
}

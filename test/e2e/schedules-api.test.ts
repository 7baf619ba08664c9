import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { type DevServer, startDevServer } from "../support/dev-server.js";
import { tasksByTick } from "../support/schedule-ticks.js";

// Schedules through the REST API of a real `gotaskq dev` (which runs the scheduler and knows the
// demo functions), and the missed-run policies across a real outage of the only scheduler.

interface ScheduleBody {
  id: string;
  next_runs: string[];
  paused: boolean;
  last_outcome?: string;
  last_status?: string;
  last_task_id?: string;
}

interface Problem {
  status: number;
  detail: string;
}

describe("schedules over REST", () => {
  let dev: DevServer;
  beforeAll(async () => {
    dev = await startDevServer();
  });
  afterAll(async () => {
    await dev?.box.cleanup();
  });

  it.each([
    [
      { id: "bad", function_key: "demo.echo", cron: "0 25 * * *" },
      400,
      /cron "0 25 \* \* \*" is not valid: .*hour/,
    ],
    [
      { id: "bad", function_key: "demo.echo", cron: "0 3 * * *", timezone: "Europe/Atlantis" },
      400,
      /timezone "Europe\/Atlantis" is not an IANA time zone; use a name such as "Europe\/Paris"/,
    ],
    [{ id: "bad", function_key: "demo.echo", every: "200ms" }, 400, /every must be at least 1s/],
    [
      { id: "bad", function_key: "demo.ecko", every: "1s" },
      422,
      /unknown function_key "demo.ecko"; did you mean "demo.echo"/,
    ],
    [{ id: "bad", function_key: "demo.echo" }, 400, /exactly one of cron .* and every/],
    [[1, 2], 400, /a schedule must be a JSON object/],
  ])(
    "refuses %j with %i and a message that says what to change; stores nothing",
    async (body, status, detail) => {
      const answer = await dev.api("/v1/schedules", { body });
      expect(answer.status).toBe(status);
      expect((answer.json as Problem).detail).toMatch(detail);
      const list = await dev.api("/v1/schedules");
      expect(list.status).toBe(200);
      expect((list.json as { schedules: ScheduleBody[] }).schedules.map((s) => s.id)).not.toContain(
        "bad",
      );
    },
  );

  it("creates a schedule that runs every second, pauses, triggers, resumes and removes it", async () => {
    const created = await dev.api("/v1/schedules", {
      body: { id: "beat", function_key: "demo.echo", every: "1s", payload: { beat: true } },
    });
    expect(created.status).toBe(201);
    expect((created.json as ScheduleBody).next_runs).toHaveLength(3);
    expect(
      (
        await dev.api("/v1/schedules", {
          body: { id: "beat", function_key: "demo.echo", every: "1s" },
        })
      ).status,
    ).toBe(409);

    const history = async () =>
      (
        (await dev.api("/v1/schedules/beat/tasks")).json as {
          tasks: Array<{ id: string; status: string; metadata: Record<string, string> }>;
        }
      ).tasks;
    await eventually(
      async () =>
        (await history()).filter((t) => t.status === "SUCCESS").length >= 2 ? true : undefined,
      15_000,
      "two scheduled tasks to succeed",
    );
    const listed = await eventually(
      async () => {
        const one = (await dev.api("/v1/schedules/beat")).json as ScheduleBody;
        return one.last_status === "SUCCESS" ? one : undefined;
      },
      10_000,
      "the last outcome to show SUCCESS",
    );
    expect(listed.last_outcome).toBe("submitted");
    // The task list filters by schedule too.
    const filtered = (await dev.api("/v1/tasks?schedule=beat")).json as {
      tasks: Array<{ metadata: Record<string, string> }>;
    };
    expect(filtered.tasks.length).toBeGreaterThanOrEqual(2);
    expect(filtered.tasks.every((t) => t.metadata["gotaskq.schedule"] === "beat")).toBe(true);

    const paused = await dev.api("/v1/schedules/beat/pause", { method: "POST" });
    expect(paused.status).toBe(200);
    expect((paused.json as ScheduleBody).next_runs).toEqual([]);
    await new Promise((r) => setTimeout(r, 1_500)); // a tick already claimed may still land
    const before = (await history()).length;
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await history()).length).toBe(before);

    const triggered = await dev.api("/v1/schedules/beat/trigger", { method: "POST" });
    expect(triggered.status).toBe(202);
    const triggeredId = (triggered.json as { id: string }).id;
    const manual = await eventually(
      async () => (await history()).find((t) => t.id === triggeredId && t.status === "SUCCESS"),
      10_000,
      "the triggered task to run",
    );
    expect(manual.metadata["gotaskq.trigger"]).toBe("manual");

    expect((await dev.api("/v1/schedules/beat/resume", { method: "POST" })).status).toBe(200);
    const resumedAt = Date.now();
    await eventually(
      async () =>
        (await history()).some(
          (t) =>
            Date.parse(t.metadata["gotaskq.tick"] ?? "") > resumedAt &&
            t.metadata["gotaskq.trigger"] === "tick",
        )
          ? true
          : undefined,
      10_000,
      "a tick after the resume",
    );

    expect((await dev.api("/v1/schedules/beat", { method: "DELETE" })).status).toBe(200);
    const gone = await dev.api("/v1/schedules/beat");
    expect(gone.status).toBe(404);
    expect((gone.json as Problem).detail).toMatch(/no schedule with id "beat"/);
  });
});

// The 30 s outage shortened to 6 s with catch_up_max 3: the outage misses 5 or more
// ticks, more than the bound, so what is asserted (the latest `bound` missed ticks once for
// catch_up, none for skip) is the same.
const POLICY_TASKS = `
export default { "sched.note": async () => "ok" };
export const schedules = {
  "catch": { function_key: "sched.note", every: "1s", missed: "catch_up", catch_up_max: 3 },
  "skip": { function_key: "sched.note", every: "1s" },
};
`;

describe("missed ticks after an outage of every scheduler", () => {
  let box: Sandbox | undefined;
  afterEach(async () => {
    await box?.cleanup();
  });

  it("catch_up submits the latest catch_up_max missed ticks once; skip submits none", async () => {
    box = new Sandbox();
    const sandbox = box;
    const tasks = path.join(sandbox.dir, "tasks.mjs");
    writeFileSync(tasks, POLICY_TASKS);
    const start = () =>
      sandbox.start(["worker", "--tasks", tasks], { readyText: "GoTaskQ worker" });
    const first = await start();
    await new Promise((r) => setTimeout(r, 3_000));
    const exited = new Promise((r) => first.once("exit", r));
    first.kill("SIGTERM");
    await exited;
    await new Promise((r) => setTimeout(r, 6_000));
    await start();
    await new Promise((r) => setTimeout(r, 3_000));
    const tracking = sandbox.env.GOTASKQ_TRACKING_URL as string;
    const skip = [...(await tasksByTick(tracking, "skip")).keys()].sort();
    const catchUp = await tasksByTick(tracking, "catch");
    // The outage: the widest gap between consecutive ticks of the skip schedule.
    let gapStart = 0;
    let gapEnd = 0;
    for (let i = 1; i < skip.length; i++) {
      const [a, b] = [skip[i - 1] as number, skip[i] as number];
      if (b - a > gapEnd - gapStart) [gapStart, gapEnd] = [a, b];
    }
    expect(gapEnd - gapStart).toBeGreaterThanOrEqual(5_000);
    const missed = [...catchUp.keys()].filter((t) => t > gapStart && t < gapEnd).sort();
    console.log(
      `outage ${new Date(gapStart).toISOString()} … ${new Date(gapEnd).toISOString()}; catch_up submitted ${missed.map((t) => new Date(t).toISOString()).join(", ")}`,
    );
    expect(missed).toEqual([gapEnd - 3_000, gapEnd - 2_000, gapEnd - 1_000]);
    expect([...catchUp.values()].every((ids) => ids.size === 1)).toBe(true);
    // Outside the outage both schedules fired the same ticks.
    expect([...catchUp.keys()].filter((t) => t <= gapStart || t >= gapEnd).sort()).toEqual(
      skip.filter((t) => t >= Math.min(...catchUp.keys())),
    );
  }, 60_000);
});

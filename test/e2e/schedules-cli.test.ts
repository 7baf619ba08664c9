import { afterEach, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// `gotaskq schedules …` on the local backends (the schedules in the embedded coordination store)
// and against a remote server (GOTASKQ_API_URL): the same answers, the same refusals.

interface ScheduleJson {
  id: string;
  cron?: string;
  timezone?: string;
  paused: boolean;
  next_runs: string[];
}

let box: Sandbox | undefined;
let dev: DevServer | undefined;
afterEach(async () => {
  await box?.cleanup();
  await dev?.box.cleanup();
  box = undefined;
  dev = undefined;
});

describe("gotaskq schedules", () => {
  it("adds, lists, pauses, resumes, triggers and removes a schedule on the local store", async () => {
    box = new Sandbox();
    const added = await box.json<ScheduleJson>([
      "schedules",
      "add",
      "nightly",
      "demo.echo",
      '{"report":"daily"}',
      "--cron",
      "30 2 * * *",
      "--timezone",
      "Europe/Paris",
      "--missed",
      "catch_up",
    ]);
    expect(added).toMatchObject({
      id: "nightly",
      cron: "30 2 * * *",
      timezone: "Europe/Paris",
      paused: false,
    });
    expect(added.next_runs).toHaveLength(3);
    // 02:30 in Paris is 00:30 or 01:30 UTC, depending on daylight-saving time.
    expect(added.next_runs.every((t) => /T0[01]:30:00\.000Z$/.test(t))).toBe(true);

    const again = await box.run(["schedules", "add", "nightly", "demo.echo", "--every", "1m"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/schedule "nightly" already exists/);

    const table = await box.run(["schedules", "list"]);
    expect(table.stdout).toMatch(/nightly\s+30 2 \* \* \* \(Europe\/Paris\)\s+demo\.echo\s+active/);

    expect((await box.json<ScheduleJson>(["schedules", "pause", "nightly"])).paused).toBe(true);
    expect((await box.json<ScheduleJson>(["schedules", "resume", "nightly"])).paused).toBe(false);

    const task = await box.json<{ id: string }>(["schedules", "trigger", "nightly"]);
    const listed = await eventually(
      async () => {
        const page = await box?.json<{ tasks: Array<{ id: string }> }>([
          "list",
          "--schedule",
          "nightly",
        ]);
        return page?.tasks.some((t) => t.id === task.id) ? page : undefined;
      },
      10_000,
      "the triggered task in list --schedule",
    );
    expect(listed.tasks).toHaveLength(1);

    expect((await box.run(["schedules", "remove", "nightly"])).stdout).toMatch(
      /schedule nightly removed/,
    );
    expect(await box.json(["schedules", "list"])).toEqual([]);
  }, 60_000);

  it.each([
    [["--every", "500ms"], /every must be at least 1s/],
    [
      ["--cron", "0 3 * * *", "--timezone", "Mars/Olympus"],
      /timezone "Mars\/Olympus" is not an IANA time zone/,
    ],
    [["--cron", "every day"], /cron "every day" has 2 fields/],
  ])(
    "refuses %j with one line naming what to change, and stores nothing",
    async (flags, message) => {
      box = new Sandbox();
      const answer = await box.run(["schedules", "add", "bad", "demo.echo", ...flags]);
      expect(answer.code).toBe(1);
      expect(answer.stderr.trim().split("\n")).toHaveLength(1);
      expect(answer.stderr).toMatch(message);
      expect(await box.json(["schedules", "list"])).toEqual([]);
    },
  );

  it("talks to a remote server's /v1/schedules with GOTASKQ_API_URL", async () => {
    dev = await startDevServer();
    const remote = { GOTASKQ_API_URL: dev.restUrl, GOTASKQ_API_KEY: ADMIN_KEY };
    const added = await dev.box.run(
      ["schedules", "add", "remote-beat", "demo.echo", "--every", "1h", "--json"],
      {
        env: remote,
      },
    );
    expect(added.code).toBe(0);
    const listed = await dev.api("/v1/schedules");
    expect((listed.json as { schedules: ScheduleJson[] }).schedules.map((s) => s.id)).toEqual([
      "remote-beat",
    ]);
    const unknown = await dev.box.run(["schedules", "add", "x", "demo.nope", "--every", "1h"], {
      env: remote,
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown function_key "demo.nope"/);
  }, 60_000);
});

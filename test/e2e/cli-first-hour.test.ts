import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, Sandbox } from "../support/cli.js";

// What a new user meets in the first hour (issue 15), through the real CLI against one
// `gotaskq dev` on embedded SQLite backends: relative times, messages that agree with each other,
// a second `dev` on a port that is taken.

interface Page {
  tasks: Array<{ id: string }>;
}

describe("gotaskq CLI: the first hour", () => {
  const box = new Sandbox();
  const second = new Sandbox();
  let id = "";
  let ports = { rest: "", grpc: "" };

  beforeAll(async () => {
    const dev = await box.start(["dev"], { readyText: "Stop with Ctrl+C" });
    ports = {
      rest: /REST: +http:\/\/[^:]+:(\d+)/.exec(dev.output())?.[1] ?? "",
      grpc: /gRPC: +[^:]+:(\d+)/.exec(dev.output())?.[1] ?? "",
    };
    const r = await box.run(["submit", "demo.echo", '{"a":1}', "--wait", "--json"]);
    expect(r.code).toBe(0);
    id = (JSON.parse(r.stdout) as { id: string }).id;
  });
  afterAll(() => Promise.all([box.cleanup(), second.cleanup()]));

  it("takes relative times for list --since and --until", async () => {
    const recent = await box.json<Page>(["list", "--since", "1h"]);
    expect(recent.tasks.map((t) => t.id)).toContain(id);
    const older = await box.json<Page>(["list", "--since", "2d", "--until", "30m"]);
    expect(older.tasks).toEqual([]);
    const iso = new Date(Date.now() - 3_600_000).toISOString();
    expect((await box.json<Page>(["list", "--since", iso])).tasks.map((t) => t.id)).toContain(id);
  });

  it("refuses any other time in one line naming the flag and the accepted forms", async () => {
    const r = await box.run(["list", "--since", "yesterday"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/--since takes a time ago such as 30m, 1h or 2d .*ISO 8601/);
  });

  it("does not suggest requeueing a SUCCESS task that requeue would refuse", async () => {
    const cancel = await box.run(["cancel", id]);
    expect(cancel.code).not.toBe(0);
    expect(cancel.stderr).toMatch(/already ended with SUCCESS; nothing to cancel/);
    expect(cancel.stderr).not.toMatch(/requeue it/);
    const requeue = await box.run(["requeue", id]);
    expect(requeue.code).not.toBe(0);
    // Both say the same thing about which tasks requeue takes.
    for (const r of [cancel, requeue]) {
      expect(r.stderr).toMatch(/only FAILURE or CANCELED tasks can be requeued/);
    }
  });

  it("fails a second dev on a taken port with one line naming the flag and the variable", async () => {
    for (const [flag, variable, args] of [
      ["--http-port", "GOTASKQ_HTTP_PORT", ["--http-port", ports.rest, "--grpc-port", "0"]],
      ["--grpc-port", "GOTASKQ_GRPC_PORT", ["--http-port", "0", "--grpc-port", ports.grpc]],
    ] as const) {
      const r = await second.run(["dev", ...args]);
      expect(r.code).toBe(1);
      // One line on stderr, no stack trace (the start-up log lines are on stdout).
      expect(r.stderr.trim().split("\n")).toEqual([
        `gotaskq: port ${args[args.indexOf(flag) + 1]} on 127.0.0.1 is in use (${flag} / ${variable}); stop the other process or choose another port (0 = any free port)`,
      ]);
    }
  });

  it("stops quietly when the reader of its output leaves early (status | head -1)", async () => {
    const r = spawnSync(
      "bash",
      ["-c", `"${process.execPath}" "${CLI}" status ${id} | head -1; exit \${PIPESTATUS[0]}`],
      { cwd: box.dir, env: { ...process.env, ...box.env }, encoding: "utf8" },
    );
    expect(r.stdout).toBe(`id                  ${id}\n`);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});

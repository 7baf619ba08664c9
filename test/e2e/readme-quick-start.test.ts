import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bash,
  cloneForUser,
  markedBlock,
  type Running,
  start,
  stop,
  USER_TIMEOUT_MS,
  userEnv,
} from "../support/as-a-user.js";
import { pollUntil } from "../support/poll-until.js";

// README's quick start and "Your own tasks", run as a new user runs them: in a fresh clone of
// the repository, beside a running `npm start`, each shell block given to bash as written (the
// blocks after their `run as written` markers). The tasks they submit must end as the README's
// comments promise. Editing those blocks edits this test.
//
// What stands in for `npm install` in the clone: the repository's node_modules (linked) and its
// dist/ (copied; `npm test` has just built it). Ports are left to the system (`npm start` would
// take 8080 and 50051, which parallel suites may hold); the blocks never name them.

const QUICK_START = "test/e2e/readme-quick-start.test.ts";

/** The block after `<!-- run as written by …readme-quick-start…[: name] -->` in README.md. */
const block = (name?: string): string => markedBlock("README.md", QUICK_START, name);

interface Task {
  id: string;
  functionKey: string;
  status: string;
  run: number;
  attempt: number;
  result?: unknown;
}

describe("README, run as written in a fresh clone beside npm start", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "gotaskq-readme-"));
  const clone = path.join(root, "gotaskq");
  let npmStart: Running | undefined;

  /** Every task the clone's tracking holds, through the clone's own CLI. */
  const tasks = (): Task[] =>
    (
      JSON.parse(
        execFileSync(process.execPath, ["dist/cli/main.js", "list", "--limit", "100", "--json"], {
          cwd: clone,
          env: userEnv(),
          encoding: "utf8",
        }),
      ) as { tasks: Task[] }
    ).tasks;
  const onlyTask = (functionKey: string): Task | undefined => {
    const found = tasks().filter((t) => t.functionKey === functionKey);
    return found.length === 1 ? found[0] : undefined;
  };

  beforeAll(async () => {
    cloneForUser(clone);
    npmStart = await start("npm start", clone, "Stop with Ctrl+C");
  }, USER_TIMEOUT_MS);

  afterAll(async () => {
    await stop(npmStart);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it("quick start: every task ends as the comments say", async () => {
    const ran = bash(block(), clone);
    expect(ran.output).not.toMatch(/command not found|Unknown command|error: unknown/i);
    expect(ran.code, ran.output).toBe(0);
    expect(onlyTask("demo.echo")).toMatchObject({
      status: "SUCCESS",
      result: { hello: "world" },
    });
    expect(onlyTask("demo.flaky")).toMatchObject({
      status: "SUCCESS",
      attempt: 2,
      result: { attempt: 2 },
    });
    // Requeued after its FAILURE: run 1, which fails again (demo.fail always does).
    const failed = await pollUntil(
      () => {
        const t = onlyTask("demo.fail");
        return t?.run === 1 && t.status === "FAILURE" ? t : undefined;
      },
      { timeoutMs: 60_000, what: "demo.fail to end FAILURE in run 1", intervalMs: 500 },
    );
    expect(ran.output).toContain(failed.id);
    await pollUntil(() => onlyTask("demo.sleep")?.status === "CANCELED" || undefined, {
      timeoutMs: 60_000,
      what: "demo.sleep to be CANCELED",
      intervalMs: 500,
    });
  }, 180_000);

  it("your own tasks: a worker beside npm start runs them; dev --tasks runs them alone", async () => {
    writeFileSync(path.join(clone, "tasks.ts"), block("tasks.ts"));
    const [workerLine, submitLine] = block("worker").trim().split("\n");
    if (!workerLine || !submitLine) throw new Error("the worker block has two lines");
    const worker = await start(workerLine, clone, "GoTaskQ worker");
    try {
      const submitted = bash(submitLine, clone);
      expect(submitted.code, submitted.output).toBe(0);
      expect(submitted.output).toContain("SUCCESS");
      expect(submitted.output).toContain("HI");
    } finally {
      await stop(worker);
    }
    // The other way: `dev` with the module beside the demo functions, npm start stopped first
    // (it holds the files' lease on nothing, but two devs would both run the demo functions).
    await stop(npmStart);
    npmStart = undefined;
    const [devLine] = block("dev").trim().split("\n");
    if (!devLine) throw new Error("the dev block is empty");
    const dev = await start(devLine, clone, "Stop with Ctrl+C");
    try {
      const again = bash(submitLine, clone);
      expect(again.code, again.output).toBe(0);
      expect(again.output).toContain("HI");
    } finally {
      await stop(dev);
    }
  }, 180_000);
});

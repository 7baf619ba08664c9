import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pollUntil } from "../support/poll-until.js";

// README's quick start and "Your own tasks", run as a new user runs them: in a fresh clone of
// the repository, beside a running `npm start`, each shell block given to bash as written (the
// blocks after their `run as written` markers). The tasks they submit must end as the README's
// comments promise. Editing those blocks edits this test.
//
// What stands in for `npm install` in the clone: the repository's node_modules (linked) and its
// dist/ (copied; `npm test` has just built it). Ports are left to the system (`npm start` would
// take 8080 and 50051, which parallel suites may hold); the blocks never name them.

const REPO = process.cwd();
const README = readFileSync(path.join(REPO, "README.md"), "utf8");
const TIMEOUT_MS = 120_000;

/** The ```<lang> block after `<!-- run as written by …: name -->` (or without `: name`). */
function block(lang: "sh" | "ts", name?: string): string {
  const marker = `<!-- run as written by test/e2e/readme-quick-start.test.ts${name ? `: ${name}` : ""} -->`;
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  const found = new RegExp(`^\`\`\`${lang}\\n([\\s\\S]*?)\\n\`\`\``, "m").exec(
    README.slice(at + marker.length),
  );
  if (!found?.[1]) throw new Error(`README.md has no \`\`\`${lang} block after ${marker}`);
  return `${found[1]}\n`;
}

/** The user's environment: no GOTASKQ_* variable (the README sets none) but free ports. */
function userEnv(): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("GOTASKQ_")),
    ),
    GOTASKQ_HTTP_PORT: "0",
    GOTASKQ_GRPC_PORT: "0",
  };
}

interface Running {
  child: ChildProcess;
  output(): string;
}

/** A long-running command line through bash, in its own process group (stopped as a group). */
function start(command: string, cwd: string, readyText: string): Promise<Running> {
  const child = spawn("bash", ["-c", command], {
    cwd,
    env: userEnv(),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command}: not ready in ${TIMEOUT_MS} ms:\n${output}`)),
      TIMEOUT_MS,
    );
    const seen = (d: Buffer) => {
      output += d.toString();
      if (output.includes(readyText)) {
        clearTimeout(timer);
        resolve({ child, output: () => output });
      }
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited ${code} before it was ready:\n${output}`));
    });
  });
}

async function stop(running: Running | undefined): Promise<void> {
  const pid = running?.child.pid;
  if (!running || pid === undefined || running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once("exit", resolve));
  process.kill(-pid, "SIGTERM");
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  if (running.child.exitCode === null) process.kill(-pid, "SIGKILL");
}

/** Runs a shell block with bash, as if typed line by line (a failing line does not stop it). */
function bash(script: string, cwd: string): { code: number; output: string } {
  try {
    const output = execFileSync("bash", ["-c", script], {
      cwd,
      env: userEnv(),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: TIMEOUT_MS,
    });
    return { code: 0, output };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

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
    execFileSync("git", ["clone", "--quiet", REPO, clone]);
    symlinkSync(path.join(REPO, "node_modules"), path.join(clone, "node_modules"));
    cpSync(path.join(REPO, "dist"), path.join(clone, "dist"), { recursive: true });
    npmStart = await start("npm start", clone, "Stop with Ctrl+C");
  }, TIMEOUT_MS);

  afterAll(async () => {
    await stop(npmStart);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it("quick start: every task ends as the comments say", async () => {
    const ran = bash(block("sh"), clone);
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
    writeFileSync(path.join(clone, "tasks.ts"), block("ts", "tasks.ts"));
    const [workerLine, submitLine] = block("sh", "worker").trim().split("\n");
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
    const [devLine] = block("sh", "dev").trim().split("\n");
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

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { cpSync, readFileSync, symlinkSync } from "node:fs";
import path from "node:path";

// What the tests that run the README's and docs' shell blocks share: reading a block after its
// marker, a fresh clone of the repository to run it in, and bash, as a user has them. Used by
// test/e2e/readme-quick-start.test.ts and test/e2e/docs-commands.test.ts; the markers are checked
// by test/docs-shell-blocks.test.ts.

/** The repository the tests run in (vitest's working directory). */
export const REPO = process.cwd();
export const USER_TIMEOUT_MS = 120_000;

/** The markers: `<!-- run as written by <test file>[: name] -->` or `<!-- not run by a test: <why> -->`. */
export const RUN_MARKER = /^<!-- run as written by (\S+?)(?:: (.+?))? -->$/;
export const EXEMPT_MARKER = /^<!-- not run by a test: (.+\S) -->$/;

export interface ShellBlock {
  /** Relative to the repository, e.g. docs/api.md. */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  /** The last non-blank line before the fence. */
  before: string;
  body: string;
}

/** Every fenced block of a Markdown file, with the line before it. */
export function fencedBlocks(file: string): ShellBlock[] {
  const lines = readFileSync(path.join(REPO, file), "utf8").split("\n");
  const blocks: ShellBlock[] = [];
  let before = "";
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i] as string);
    if (!open) {
      if ((lines[i] as string).trim() !== "") before = lines[i] as string;
      continue;
    }
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j] as string))
      body.push(lines[j++] as string);
    blocks.push({ file, line: i + 1, lang: open[1] ?? "", before, body: `${body.join("\n")}\n` });
    before = "";
    i = j;
  }
  return blocks;
}

/** The block after `<!-- run as written by <testFile>[: name] -->` in `file`. */
export function markedBlock(file: string, testFile: string, name?: string): string {
  const marker = `<!-- run as written by ${testFile}${name ? `: ${name}` : ""} -->`;
  const found = fencedBlocks(file).filter((b) => b.before === marker);
  if (found.length !== 1) throw new Error(`${file} has ${found.length} blocks after ${marker}`);
  return (found[0] as ShellBlock).body;
}

/** The user's environment: no GOTASKQ_* variable (the docs set their own) but free ports. */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith("GOTASKQ_")),
    ),
    GOTASKQ_HTTP_PORT: "0",
    GOTASKQ_GRPC_PORT: "0",
    ...extra,
  };
}

/**
 * A fresh clone of the repository in `dir`, as after `git clone` and `npm install`: the
 * repository's node_modules linked and its dist/ copied (`npm test` has just built it).
 */
export function cloneForUser(dir: string): string {
  execFileSync("git", ["clone", "--quiet", REPO, dir]);
  symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
  cpSync(path.join(REPO, "dist"), path.join(dir, "dist"), { recursive: true });
  return dir;
}

export interface Running {
  child: ChildProcess;
  output(): string;
}

/** A long-running command line through bash, in its own process group (stopped as a group). */
export function start(
  command: string,
  cwd: string,
  readyText: string | RegExp,
  env: Record<string, string> = {},
): Promise<Running> {
  const child = spawn("bash", ["-c", command], {
    cwd,
    env: userEnv(env),
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const ready = () =>
    typeof readyText === "string" ? output.includes(readyText) : readyText.test(output);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop({ child, output: () => output });
      reject(new Error(`${command}: not ready in ${USER_TIMEOUT_MS} ms:\n${output}`));
    }, USER_TIMEOUT_MS);
    const seen = (d: Buffer) => {
      output += d.toString();
      if (ready()) {
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

/** SIGTERM to the process group, SIGKILL after 30 s. */
export async function stop(running: Running | undefined): Promise<void> {
  const pid = running?.child.pid;
  if (!running || pid === undefined || running.child.exitCode !== null) return;
  const exited = new Promise((resolve) => running.child.once("exit", resolve));
  try {
    process.kill(-pid, "SIGTERM");
  } catch {
    return; // the group is gone
  }
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000))]);
  if (running.child.exitCode === null) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
  }
}

/** Runs a shell block with bash, as if typed line by line (a failing line does not stop it). */
export function bash(
  script: string,
  cwd: string,
  env: Record<string, string> = {},
): { code: number; output: string } {
  try {
    const output = execFileSync("bash", ["-c", script], {
      cwd,
      env: userEnv(env),
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: USER_TIMEOUT_MS,
    });
    return { code: 0, output };
  } catch (error) {
    const e = error as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? -1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

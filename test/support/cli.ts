import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// Drives the real `gotaskq` CLI (dist/cli/main.js) in child processes, each test in its own temp
// directory with its own SQLite files, so suites can run in parallel.

export const CLI = path.resolve("dist/cli/main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export class Sandbox {
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-e2e-"));
  readonly env: Record<string, string>;
  private readonly children = new Set<ChildProcess>();

  constructor(env: Record<string, string> = {}) {
    this.env = {
      GOTASKQ_BROKER_URL: `sqlite://${path.join(this.dir, "broker.db")}`,
      GOTASKQ_TRACKING_URL: `sqlite://${path.join(this.dir, "tracking.db")}`,
      // Any free ports: suites run in parallel, and a developer's own dev server may hold 8080.
      GOTASKQ_HTTP_PORT: "0",
      GOTASKQ_GRPC_PORT: "0",
      GOTASKQ_API_KEYS_FILE: path.join(this.dir, "api-keys.json"),
      ...env,
    };
  }

  /** Runs one CLI command to completion. */
  run(
    args: string[],
    options: { stdin?: string; env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        cwd: this.dir,
        env: { ...process.env, ...this.env, ...options.env },
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`gotaskq ${args.join(" ")} did not finish in time; stderr: ${stderr}`));
      }, options.timeoutMs ?? 60_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
      child.stdin.end(options.stdin ?? "");
    });
  }

  /** Runs a command that must succeed and prints JSON; returns the parsed JSON. */
  async json<T>(args: string[], options: { stdin?: string } = {}): Promise<T> {
    const r = await this.run([...args, "--json"], options);
    if (r.code !== 0) throw new Error(`gotaskq ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as T;
  }

  /** Starts a long-running command (dev, worker) and resolves once it printed `readyText`. */
  start(
    args: string[],
    options: { env?: Record<string, string>; readyText?: string } = {},
  ): Promise<ChildProcess & { output: () => string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: this.dir,
      env: { ...process.env, ...this.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    let output = "";
    const ready = options.readyText ?? "GoTaskQ";
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`gotaskq ${args.join(" ")} not ready in 20 s:\n${output}`)),
        20_000,
      );
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes(ready)) {
          clearTimeout(timer);
          resolve(Object.assign(child, { output: () => output }));
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(
          new Error(`gotaskq ${args.join(" ")} exited ${code} before it was ready:\n${output}`),
        );
      });
    });
  }

  /** Stops what this sandbox started (SIGKILL for stragglers) and removes its files. */
  async cleanup(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
            child.once("exit", () => {
              clearTimeout(timer);
              resolve();
            });
            child.kill("SIGTERM");
          }),
      ),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  what: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`,
  );
}

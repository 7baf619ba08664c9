import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// A throwaway application that installs GoTaskQ the way a user does: the repository packed with
// `npm pack`, the tarball installed with `npm install --omit=dev` into an empty project, the CLI
// run from its node_modules/.bin. Nothing here reaches into the repository's own node_modules,
// so a runtime import that only devDependencies satisfy fails here as it would for a user.

export interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PackedFile {
  path: string;
  size: number;
}

/** A long-running child (a worker) whose output is kept for failure messages. */
export interface Background {
  child: ChildProcess;
  output(): string;
}

/**
 * Runs a command to completion, killing it (SIGKILL) once `timeoutMs` has passed: an install
 * that hangs on the network must fail the test, not hold it until vitest's own timeout.
 */
export function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(
          `${command} ${args.join(" ")} did not finish in ${options.timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, options.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Resolves with how the child ended, or rejects once `timeoutMs` has passed without an exit. */
export function exited(child: ChildProcess, timeoutMs: number): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      resolve({ code: child.exitCode, signal: child.signalCode, stdout: "", stderr: "" });
    };
    const timer = setTimeout(() => {
      child.off("exit", done);
      reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`));
    }, timeoutMs);
    if (child.exitCode !== null || child.signalCode !== null) done();
    else child.once("exit", done);
  });
}

/**
 * The environment of every command run in the project: the test runner's own, minus anything
 * that would steer GoTaskQ (a developer's GOTASKQ_* settings) or the child Node processes
 * (vitest's NODE_OPTIONS), so each test states its backends itself.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("GOTASKQ_") || key === "NODE_OPTIONS") continue;
    env[key] = value;
  }
  return env;
}

export class PackedProject {
  /** Holds the tarball and, in app/, the application that installs it. */
  readonly root = mkdtempSync(path.join(os.tmpdir(), "gotaskq-package-"));
  readonly dir = path.join(this.root, "app");
  readonly bin = path.join(this.dir, "node_modules", ".bin", "gotaskq");
  readonly env = cleanEnv();
  tarball = "";
  files: PackedFile[] = [];
  private readonly children = new Set<ChildProcess>();

  /** `npm pack` of the repository at `repo` into this project's root. */
  async pack(repo: string): Promise<void> {
    // --ignore-scripts: `prepare` would run `npm run build` again, which `npm test` has just done;
    // rebuilding costs a minute and rewrites dist/ under the suites that run the CLI from it in
    // parallel. The assertions on the file list catch a dist/ that is missing or incomplete.
    const packed = await run(
      "npm",
      ["pack", "--ignore-scripts", "--json", "--pack-destination", this.root],
      { cwd: repo, env: this.env, timeoutMs: 120_000 },
    );
    if (packed.code !== 0) throw new Error(`npm pack exited ${packed.code}: ${packed.stderr}`);
    const [report] = JSON.parse(packed.stdout) as { filename: string; files: PackedFile[] }[];
    if (!report) throw new Error(`npm pack printed no report: ${packed.stdout}`);
    this.tarball = path.join(this.root, report.filename);
    this.files = report.files;
  }

  /**
   * Creates the application and installs the tarball with its runtime dependencies only.
   * --prefer-offline takes what the npm cache holds without asking the registry again.
   *
   * `allowScripts` is npm's review list of dependencies that may run install scripts (npm 11:
   * advisory, it warns about unlisted ones and runs them anyway; npm 12 skips unlisted ones). A
   * user of GoTaskQ must list better-sqlite3, whose install step fetches or compiles the native
   * SQLite binding of the default backend. esbuild's (under tsx, which loads .ts task modules)
   * checks its platform binary and fetches it if the optional package holding it is missing;
   * protobufjs's (gRPC) only checks version schemes. gotaskq itself is denied: a tarball
   * is a "non-registry source" whose `prepare` (a build with devDependencies) npm would
   * otherwise list; from the registry it has no install script at all.
   */
  async install(timeoutMs: number, repo?: string): Promise<Finished> {
    mkdirSync(this.dir);
    const prebuilds = repo ? await this.localSqlitePrebuild(repo) : undefined;
    writeFileSync(
      path.join(this.dir, "package.json"),
      `${JSON.stringify(
        {
          name: "gotaskq-package-check",
          private: true,
          type: "module",
          allowScripts: { "better-sqlite3": true, esbuild: true, protobufjs: true, gotaskq: false },
        },
        null,
        2,
      )}\n`,
    );
    const installed = await run(
      "npm",
      ["install", "--omit=dev", "--prefer-offline", "--no-audit", "--no-fund", this.tarball],
      {
        cwd: this.dir,
        env: {
          ...this.env,
          npm_config_update_notifier: "false",
          ...(prebuilds ? { npm_config_better_sqlite3_local_prebuilds: prebuilds } : {}),
        },
        timeoutMs,
      },
    );
    if (installed.code !== 0) {
      throw new Error(`npm install exited ${installed.code}:\n${installed.stderr}`);
    }
    return installed;
  }

  /**
   * better-sqlite3's install script (prebuild-install) downloads a prebuilt binding from GitHub,
   * which this machine cannot reach, and falls back to compiling SQLite (two minutes on two
   * cores). It also looks in a local prebuilds folder first: packing the binding the repository
   * already compiled for this very version, Node ABI and platform there keeps the user's install
   * path (the same script, the same unpacking) and skips the compile. Undefined (compile) when
   * the repository has no such binding.
   */
  private async localSqlitePrebuild(repo: string): Promise<string | undefined> {
    const pkgDir = path.join(repo, "node_modules", "better-sqlite3");
    const binding = path.join("build", "Release", "better_sqlite3.node");
    if (!existsSync(path.join(pkgDir, binding))) return undefined;
    const { version } = JSON.parse(readFileSync(path.join(pkgDir, "package.json"), "utf8")) as {
      version: string;
    };
    const dir = path.join(this.root, "prebuilds");
    mkdirSync(dir, { recursive: true });
    const name = `better-sqlite3-v${version}-node-v${process.versions.modules}-${process.platform}-${process.arch}.tar.gz`;
    const packed = await run("tar", ["-czf", path.join(dir, name), "-C", pkgDir, binding], {
      cwd: this.root,
      env: this.env,
      timeoutMs: 60_000,
    });
    return packed.code === 0 ? dir : undefined;
  }

  write(file: string, text: string): string {
    const full = path.join(this.dir, file);
    writeFileSync(full, text);
    return full;
  }

  /** Runs a command (tsc, node) in the project to completion. */
  exec(command: string, args: readonly string[], timeoutMs: number): Promise<Finished> {
    return run(command, args, { cwd: this.dir, env: this.env, timeoutMs });
  }

  /** Runs the installed `gotaskq` binary to completion (through its shebang, as a shell does). */
  gotaskq(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<Finished> {
    return run(this.bin, args, { cwd: this.dir, env: { ...this.env, ...env }, timeoutMs });
  }

  /** Starts the installed `gotaskq` binary and resolves once its output contains `readyText`. */
  start(
    args: readonly string[],
    env: NodeJS.ProcessEnv,
    readyText: string,
    timeoutMs = 30_000,
  ): Promise<Background> {
    const child = spawn(this.bin, args, {
      cwd: this.dir,
      env: { ...this.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.children.add(child);
    child.once("exit", () => this.children.delete(child));
    let output = "";
    return new Promise((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(`gotaskq ${args.join(" ")} ${why}:\n${output}`));
      };
      const timer = setTimeout(() => fail(`not ready within ${timeoutMs} ms`), timeoutMs);
      const onData = (d: Buffer) => {
        output += d.toString();
        if (output.includes(readyText)) {
          clearTimeout(timer);
          resolve({ child, output: () => output });
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.once("error", (error) => fail(`failed to start: ${error.message}`));
      child.once("exit", (code, signal) => fail(`exited (${code ?? signal}) before it was ready`));
    });
  }

  /** Stops what is still running (SIGTERM, SIGKILL after 10 s) and removes every file. */
  async cleanup(): Promise<void> {
    await Promise.all(
      [...this.children].map(async (child) => {
        child.kill("SIGTERM");
        await exited(child, 10_000).catch(() => {
          child.kill("SIGKILL");
          return exited(child, 5_000);
        });
      }),
    );
    rmSync(this.root, { recursive: true, force: true });
  }
}

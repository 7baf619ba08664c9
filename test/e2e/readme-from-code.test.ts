import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, eventually } from "../support/cli.js";
import { type DevServer, startDevServer } from "../support/dev-server.js";

// README "From code": the blocks after its `tested as written` markers (submit.ts, worker.ts) and
// the "Your own tasks" module (tasks.ts), copied byte for byte into a folder where `gotaskq dev`
// runs on its default `.gotaskq/` files, and run with tsx as the README says, with no GOTASKQ_*
// variable set. What they submit must be tracked where the API reads, and end as promised.
// Editing the README's blocks edits this test.

// README.md holds submit.ts and tasks.ts; docs/library.md, where README points for more, worker.ts.
const README = ["../../README.md", "../../docs/library.md"]
  .map((file) => readFileSync(fileURLToPath(new URL(file, import.meta.url)), "utf8"))
  .join("\n");
/** The package the blocks import as "gotaskq": the one whose CLI the suites run. */
const PACKAGE_ROOT = path.resolve(path.dirname(CLI), "..", "..");

/** The ```ts block after `<!-- tested as written by …: name -->`. */
function tested(name: string): string {
  const marker = `<!-- tested as written by test/e2e/readme-from-code.test.ts: ${name} -->`;
  const at = README.indexOf(marker);
  if (at < 0) throw new Error(`README.md has no ${marker}`);
  return blockAt(README.slice(at + marker.length), `after ${marker}`);
}

function blockAt(text: string, where: string): string {
  const block = /^```ts\n([\s\S]*?)\n```/m.exec(text);
  if (!block?.[1]) throw new Error(`README.md has no \`\`\`ts block ${where}`);
  return `${block[1]}\n`;
}

/** `npx tsx <file>` in `cwd`, without any GOTASKQ_* variable (the README sets none). */
function tsx(file: string, cwd: string): ChildProcess & { output: () => string } {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("GOTASKQ_")),
  );
  const bin = path.join(PACKAGE_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
  const child = spawn(process.execPath, [bin, file], {
    cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return Object.assign(child, { output: () => output });
}

function exited(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    if (child.exitCode !== null) return resolve(child.exitCode);
    const timer = setTimeout(() => reject(new Error(`no exit in ${timeoutMs} ms`)), timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe("README: From code", () => {
  let dev: DevServer;
  const started: ChildProcess[] = [];

  beforeAll(async () => {
    // `npm start` in a folder: the default URLs, relative to it.
    dev = await startDevServer({
      GOTASKQ_BROKER_URL: "sqlite://.gotaskq/broker.db",
      GOTASKQ_TRACKING_URL: "sqlite://.gotaskq/tracking.db",
    });
    const dir = dev.box.dir;
    writeFileSync(path.join(dir, "package.json"), '{ "type": "module" }\n');
    mkdirSync(path.join(dir, "node_modules"));
    symlinkSync(PACKAGE_ROOT, path.join(dir, "node_modules", "gotaskq"), "dir");
    writeFileSync(path.join(dir, "submit.ts"), tested("submit.ts"));
    writeFileSync(path.join(dir, "worker.ts"), tested("worker.ts"));
    // "Your own tasks": the block that starts with `// tasks.ts`.
    const tasks = README.indexOf("```ts\n// tasks.ts\n");
    writeFileSync(path.join(dir, "tasks.ts"), blockAt(README.slice(tasks), "for tasks.ts"));
  });
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null) child.kill("SIGKILL");
    await dev.box.cleanup();
  });

  it("submit.ts runs as written beside gotaskq dev: the task completes and the API sees it", async () => {
    const run = tsx("submit.ts", dev.box.dir);
    started.push(run);
    expect(await exited(run, 40_000), run.output()).toBe(0);
    const printed = /^(\S+) SUCCESS \{ hello: 'from code' \}$/m.exec(run.output());
    expect(printed, run.output()).not.toBeNull();
    const id = printed?.[1] as string;
    const tracked = await dev.api(`/v1/tasks/${id}`);
    expect(tracked.status).toBe(200);
    expect(tracked.json).toMatchObject({
      id,
      function_key: "demo.echo",
      status: "SUCCESS",
      priority: 9,
      result: { hello: "from code" },
    });
  });

  it("worker.ts runs the tasks.ts functions beside gotaskq dev, tracked, and stops on SIGTERM", async () => {
    const worker = tsx("worker.ts", dev.box.dir);
    started.push(worker);
    // Accepted over REST once the dev API has heard the worker announce text.upper.
    const id = await eventually(
      async () => {
        const r = await dev.api("/v1/tasks", {
          body: { function_key: "text.upper", payload: { text: "hi" } },
        });
        return r.status === 202 ? (r.json as { id: string }).id : undefined;
      },
      20_000,
      `text.upper to be accepted (worker output: ${worker.output()})`,
    );
    const done = await eventually(
      async () => {
        const record = (await dev.api(`/v1/tasks/${id}`)).json as { status?: string };
        return record.status === "SUCCESS" || record.status === "FAILURE" ? record : undefined;
      },
      20_000,
      `${id} to end`,
    );
    expect(done).toMatchObject({ status: "SUCCESS", result: "HI" });
    worker.kill("SIGTERM");
    expect(await exited(worker, 15_000), worker.output()).toBe(0);
  });
});

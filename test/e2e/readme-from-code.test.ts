import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, type CliResult } from "../support/cli.js";
import { type DevServer, startDevServer } from "../support/dev-server.js";

// README "From code": the block after the `tested:` marker, copied byte for byte into a folder
// where `gotaskq dev` runs on its default `.gotaskq/` files, run with tsx as the README says, with
// no GOTASKQ_* variable set. The task it submits must be tracked where the API reads, and end
// SUCCESS. Editing the README's block edits this test.

const README = fileURLToPath(new URL("../../README.md", import.meta.url));
const MARKER = "<!-- tested: test/e2e/readme-from-code.test.ts";
/** The package the snippet imports as "gotaskq": the one whose CLI the suites run. */
const PACKAGE_ROOT = path.resolve(path.dirname(CLI), "..", "..");

function snippet(): string {
  const text = readFileSync(README, "utf8");
  const at = text.indexOf(MARKER);
  if (at < 0) throw new Error(`README.md has no "${MARKER}" marker`);
  const block = /```ts\n([\s\S]*?)\n```/.exec(text.slice(at));
  if (!block?.[1]) throw new Error("no ```ts block follows the README's marker");
  return `${block[1]}\n`;
}

/** `npx tsx <file>` in `cwd`, without any GOTASKQ_* variable (the README sets none). */
function tsx(file: string, cwd: string): Promise<CliResult> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("GOTASKQ_")),
  );
  const bin = path.join(PACKAGE_ROOT, "node_modules", "tsx", "dist", "cli.mjs");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, file], {
      cwd,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`tsx ${file} did not finish in 40 s; stderr: ${stderr}`));
    }, 40_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("README: From code", () => {
  let dev: DevServer;

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
    writeFileSync(path.join(dir, "submit.ts"), snippet());
  });
  afterAll(() => dev.box.cleanup());

  it("runs as written beside gotaskq dev: the task completes and the API sees it", async () => {
    const run = await tsx("submit.ts", dev.box.dir);
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.code).toBe(0);
    const printed = /^(\S+) SUCCESS \{ hello: 'from code' \}$/m.exec(run.stdout);
    expect(printed, run.stdout).not.toBeNull();
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
});

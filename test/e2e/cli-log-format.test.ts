import { spawn, spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, Sandbox } from "../support/cli.js";

// `gotaskq dev` at a terminal prints human-readable log lines; through a pipe (log shippers, the
// other e2e suites) it prints JSON; `--log-format` / GOTASKQ_LOG_FORMAT force either. The terminal
// is a real pseudo-terminal from util-linux `script`.

const hasScript = spawnSync("script", ["--version"]).status === 0;

/** Runs `gotaskq dev` under a pseudo-terminal until its banner, then stops it; its output. */
function devAtTerminal(box: Sandbox, env: Record<string, string> = {}): Promise<string> {
  // detached: its own process group, so the stop reaches script and node (both started here).
  const child = spawn("script", ["-qfec", `"${process.execPath}" "${CLI}" dev`, "/dev/null"], {
    cwd: box.dir,
    env: { ...process.env, ...box.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev not ready:\n${output}`)), 20_000);
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
      if (output.includes("Stop with Ctrl+C")) process.kill(-(child.pid as number), "SIGTERM");
    });
    child.on("exit", () => {
      clearTimeout(timer);
      resolve(stripColours(output));
    });
  });
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes start with ESC
const stripColours = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

const JSON_LINE = /^\{"level":30,.*"msg":"worker started"\}\r?$/m;
const PRETTY_LINE = /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: worker started \{"queues":\["default"\]/m;

describe("gotaskq dev: log format", () => {
  const box = new Sandbox();
  const piped = new Sandbox();
  const forced = new Sandbox();
  afterAll(() => Promise.all([box, piped, forced].map((b) => b.cleanup())));

  it.skipIf(!hasScript)("prints human-readable lines at a terminal", async () => {
    const output = await devAtTerminal(box);
    expect(output).toMatch(PRETTY_LINE);
    expect(output).not.toMatch(/^\{"level"/m);
  });

  it.skipIf(!hasScript)("prints JSON at a terminal with GOTASKQ_LOG_FORMAT=json", async () => {
    expect(await devAtTerminal(box, { GOTASKQ_LOG_FORMAT: "json" })).toMatch(JSON_LINE);
  });

  it("prints JSON through a pipe, and pretty lines there with --log-format pretty", async () => {
    const [json, pretty] = await Promise.all([
      piped.start(["dev"], { readyText: "Stop with Ctrl+C" }),
      forced.start(["dev", "--log-format", "pretty"], { readyText: "Stop with Ctrl+C" }),
    ]);
    expect(json.output()).toMatch(JSON_LINE);
    expect(pretty.output()).toMatch(PRETTY_LINE);
  });

  it("refuses an unknown format naming the flag", async () => {
    const r = await box.run(["dev", "--log-format", "xml"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--log-format takes json, pretty or auto \(got "xml"\)/);
  });
});

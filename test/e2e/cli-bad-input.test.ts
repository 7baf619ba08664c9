import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../support/cli.js";

// Bad input never enqueues anything and always ends in one clear line on stderr.

describe("gotaskq CLI: bad input", () => {
  const box = new Sandbox();

  beforeAll(async () => {
    await box.start(["dev"], { readyText: "Stop with Ctrl+C" }); // announces its functions
    // Wait until the worker's heartbeat is tracked so the CLI knows the registry.
    for (let i = 0; i < 100; i++) {
      const r = await box.run(["workers", "--json"]);
      if (r.code === 0 && (JSON.parse(r.stdout) as unknown[]).length > 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  afterAll(() => box.cleanup());

  async function expectRejected(args: string[], message: string | RegExp, stdin?: string) {
    const r = await box.run(args, stdin !== undefined ? { stdin } : {});
    expect(r.code).not.toBe(0);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(message);
  }

  it("refuses invalid JSON", () =>
    expectRejected(["submit", "demo.echo", "{nope"], /payload is not valid JSON .*'\{"a":1\}'/));
  it("refuses an unknown flag", () =>
    expectRejected(["submit", "demo.echo", "{}", "--priorty", "3"], /unknown option '--priorty'/));
  it("refuses an unknown function key, naming the known ones", () =>
    expectRejected(["submit", "demo.ech", "{}"], /unknown function key "demo.ech".*demo.echo/));
  it("refuses an out-of-range option", () =>
    expectRejected(
      ["submit", "demo.echo", "{}", "--priority", "12"],
      /priority must be an integer between 0 and 9 \(got 12\)/,
    ));
  it("refuses a payload over the limit", () =>
    expectRejected(
      ["submit", "demo.echo", "-"],
      /payload is \d+ bytes; the limit is 1048576 bytes/,
      JSON.stringify({ s: "x".repeat(1_100_000) }),
    ));
  it("refuses an invalid id", () =>
    expectRejected(["status", "not-an-id"], /task id must be a lowercase UUID/));
  it("refuses an unknown command", () => expectRejected(["sumbit"], /unknown command 'sumbit'/));

  it("enqueued nothing", async () => {
    const queues = await box.json<
      Array<{
        queue: string;
        ready: number;
        delayed: number;
        inFlight: number;
        deadLettered: number;
      }>
    >(["queues"]);
    for (const q of queues)
      expect(q).toMatchObject({ ready: 0, delayed: 0, inFlight: 0, deadLettered: 0 });
    const list = await box.json<{ tasks: unknown[] }>(["list"]);
    expect(list.tasks).toEqual([]);
  });
});

import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { prettyMessage, REDACTED_PATHS } from "./logger.js";

// The logger's redaction list, applied as createLogger applies it, against the shapes this code
// logs: a credential never reaches a line, and a lifecycle line passes through untouched.

function logged(object: Record<string, unknown>): Record<string, unknown> {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ redact: { paths: [...REDACTED_PATHS], censor: "[redacted]" } }, sink);
  logger.info(object, "line");
  return JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
}

describe("createLogger's redaction", () => {
  it("redacts credentials at the top level of a line", () => {
    const line = logged({
      authorization: "Bearer gtq_secret",
      "x-api-key": "gtq_secret",
      password: "hunter2",
      cookie: "sid=1",
      "set-cookie": "sid=1",
      csrf_token: "t",
    });
    for (const key of [
      "authorization",
      "x-api-key",
      "password",
      "cookie",
      "set-cookie",
      "csrf_token",
    ]) {
      expect(line[key]).toBe("[redacted]");
    }
  });

  it("redacts the headers of a request, a response and an error", () => {
    const line = logged({
      req: { method: "GET", headers: { authorization: "Bearer k", "x-api-key": "k", cookie: "c" } },
      res: { headers: { "set-cookie": "sid=1" } },
      err: { message: "boom", headers: { "x-csrf-token": "t" }, password: "p" },
      headers: { authorization: "Bearer k" },
    });
    expect(JSON.stringify(line)).not.toMatch(/Bearer|sid=1|"k"|"t"|"p"/);
    expect((line.req as { method: string }).method).toBe("GET");
    expect((line.err as { message: string }).message).toBe("boom");
  });

  it("leaves a lifecycle line as it was", () => {
    const fields = {
      event: "task_succeeded",
      task_id: "t1",
      function_key: "demo.echo",
      attempt: 0,
    };
    expect(logged(fields)).toMatchObject(fields);
  });
});

describe("pretty lines (a terminal, or --log-format pretty)", () => {
  it("puts the task a line is about right after its message", () => {
    const line = {
      msg: "task started",
      task_id: "0190a0a0-0000-7000-8000-000000000000",
      function_key: "demo.echo",
      attempt: 1,
      run: 0,
    };
    expect(prettyMessage(line, "msg")).toBe(
      "task started demo.echo 0190a0a0-0000-7000-8000-000000000000  attempt 1 run 0",
    );
  });

  it("leaves a line about no task as its message", () => {
    expect(prettyMessage({ msg: "worker started", concurrency: 16 }, "msg")).toBe("worker started");
  });
});

import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";

// The "done means", driven through the real CLI against one `gotaskq dev` process on
// embedded SQLite backends in a temp directory.

interface Record {
  id: string;
  status: string;
  attempt: number;
  run: number;
  result: unknown;
  startedAt: string | null;
  completedAt: string | null;
  error: { message: string } | null;
  deadLetterReason: string | null;
}

describe("gotaskq dev + CLI: task lifecycle", () => {
  const box = new Sandbox({ GOTASKQ_LEASE_MS: "2000" });

  beforeAll(async () => {
    const dev = await box.start(["dev", "--concurrency", "8"], { readyText: "Stop with Ctrl+C" });
    expect(dev.output()).toContain("npx gotaskq submit demo.echo");
    expect(dev.output()).toContain(box.dir);
  });
  afterAll(() => box.cleanup());

  it("runs demo.echo and returns its payload as the result", async () => {
    const r = await box.json<Record>(["submit", "demo.echo", '{"a":1}', "--wait"]);
    expect(r.status).toBe("SUCCESS");
    expect(r.result).toEqual({ a: 1 });
  });

  it("retries demo.flaky until it succeeds on attempt 2", async () => {
    const r = await box.json<Record>(["submit", "demo.flaky", '{"failures":2}', "--wait"]);
    expect(r.status).toBe("SUCCESS");
    expect(r.attempt).toBe(2);
    expect(r.result).toEqual({ attempt: 2 });
  });

  it("dead-letters demo.fail after its retries and runs it again on requeue", async () => {
    const failed = await box.run([
      "submit",
      "demo.fail",
      '{"message":"boom"}',
      "--max-retries",
      "1",
      "--wait",
      "--json",
    ]);
    expect(failed.code).toBe(3);
    const record = JSON.parse(failed.stdout) as Record;
    expect(record.status).toBe("FAILURE");
    expect(record.attempt).toBe(1);
    expect(record.deadLetterReason).toBe("retries_exhausted");
    expect(record.error?.message).toBe("boom");

    const dlq = await box.json<{ entries: Array<{ id: string; reason: string }> }>(["dlq", "list"]);
    expect(dlq.entries).toContainEqual(
      expect.objectContaining({ id: record.id, reason: "retries_exhausted" }),
    );

    expect((await box.run(["requeue", record.id])).code).toBe(0);
    const rerun = await eventually(
      async () => {
        const r = await box.json<Record>(["status", record.id]);
        return r.run === 1 && r.status === "FAILURE" ? r : undefined;
      },
      20_000,
      "the requeued run to fail again",
    );
    expect(rerun.attempt).toBe(1);
  });

  it("cancels a running demo.sleep within 2 s and does not retry it", async () => {
    const id = (await box.run(["submit", "demo.sleep", '{"ms":60000}'])).stdout.trim();
    await eventually(
      async () =>
        (await box.json<Record>(["status", id])).status === "STARTED" ? true : undefined,
      10_000,
      "STARTED",
    );
    expect((await box.run(["cancel", id])).code).toBe(0);
    const accepted = Date.now(); // the revoke is durable in the broker once `cancel` exits
    const r = await eventually(
      async () => {
        const rec = await box.json<Record>(["status", id]);
        return rec.status === "CANCELED" ? rec : undefined;
      },
      5_000,
      "CANCELED",
    );
    // Measured by the worker's own clock (same machine): when the aborted attempt ended.
    expect(Date.parse(r.completedAt ?? "") - accepted).toBeLessThan(2_000);
    expect(r.attempt).toBe(0);
    const logs = await box.json<Array<{ message: string; level: string }>>(["logs", id]);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: "info", message: "sleeping 60000 ms" }),
    );
    const queues = await box.json<
      Array<{ queue: string; ready: number; delayed: number; inFlight: number }>
    >(["queues"]);
    expect(queues.find((q) => q.queue === "default")).toMatchObject({ ready: 0, delayed: 0 });
  });
});

describe("gotaskq CLI: a cancel reaches a worker that starts later", () => {
  const box = new Sandbox();
  afterAll(() => box.cleanup());

  it("never starts a delayed task canceled before any worker ran", async () => {
    const id = (
      await box.run(["submit", "demo.echo", "{}", "--delay-ms", "1000", "--allow-unknown"])
    ).stdout.trim();
    expect((await box.run(["cancel", id])).code).toBe(0);
    await box.start(["dev"], { readyText: "Stop with Ctrl+C" });
    const r = await eventually(
      async () => {
        const rec = await box.json<Record>(["status", id]);
        return rec.status === "CANCELED" ? rec : undefined;
      },
      10_000,
      "CANCELED",
    );
    expect(r.startedAt).toBeNull();
  });
});

describe("gotaskq worker --tasks <a user's TypeScript module>", () => {
  const box = new Sandbox();
  afterAll(() => box.cleanup());

  it("runs the module's functions and dead-letters a schema violation without retrying", async () => {
    const worker = await box.start(["worker", "--tasks", path.resolve("examples/tasks.ts")], {
      readyText: "GoTaskQ worker",
    });
    expect(worker.output()).toContain("image.resize, text.upper");
    const ok = await box.json<Record>(["submit", "text.upper", '{"text":"hi"}', "--wait"]);
    expect(ok).toMatchObject({ status: "SUCCESS", result: "HI" });
    const bad = await box.run([
      "submit",
      "image.resize",
      '{"url":"https://example.com/a.png"}',
      "--wait",
      "--json",
    ]);
    expect(bad.code).toBe(3);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      status: "FAILURE",
      attempt: 0,
      deadLetterReason: "permanent_error",
    });
    // A PermanentError thrown by the module (its own import of gotaskq) is not retried either.
    const permanent = await box.run([
      "submit",
      "image.resize",
      '{"url":"http://example.com/a.png","width":10}',
      "--wait",
      "--json",
    ]);
    expect(permanent.code).toBe(3);
    expect(JSON.parse(permanent.stdout)).toMatchObject({
      status: "FAILURE",
      attempt: 0,
      deadLetterReason: "permanent_error",
    });
  });
});

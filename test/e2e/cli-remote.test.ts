import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// The CLI against a remote server: a real `gotaskq dev` process in one sandbox, and CLI commands
// run from another sandbox whose own backends stay untouched, with GOTASKQ_API_URL and
// GOTASKQ_API_KEY set. Every task command goes over REST; errors are the server's messages.

interface Record_ {
  id: string;
  status: string;
  result?: unknown;
  run?: number;
}

describe("CLI with GOTASKQ_API_URL", () => {
  let dev: DevServer;
  let remote: Sandbox;

  beforeAll(async () => {
    dev = await startDevServer();
    remote = new Sandbox({ GOTASKQ_API_URL: dev.restUrl, GOTASKQ_API_KEY: ADMIN_KEY });
  });
  afterAll(async () => {
    await remote?.cleanup();
    await dev?.box.cleanup();
  });

  const statusOf = (id: string, status: string) =>
    eventually(
      async () => {
        const r = await remote.json<Record_>(["status", id]);
        return r.status === status ? r : undefined;
      },
      20_000,
      `${id} to be ${status}`,
    );

  it("submits and waits, then reads status, list, logs, queues and workers over REST", async () => {
    const done = await remote.run(["submit", "demo.echo", '{"over":"rest"}', "--wait", "--json"]);
    expect(done.stderr).toBe("");
    expect(done.code).toBe(0);
    const record = JSON.parse(done.stdout) as Record_;
    expect(record).toMatchObject({ status: "SUCCESS", result: { over: "rest" } });

    expect(await remote.json<Record_>(["status", record.id])).toMatchObject({
      id: record.id,
      status: "SUCCESS",
    });
    const page = await remote.json<{ tasks: Record_[] }>(["list", "--status", "SUCCESS"]);
    expect(page.tasks.map((t) => t.id)).toContain(record.id);
    expect(Array.isArray(await remote.json<unknown[]>(["logs", record.id]))).toBe(true);
    const queues = await remote.json<Array<{ queue: string; inFlight: number }>>(["queues"]);
    expect(queues.map((q) => q.queue)).toContain("default");
    const workers = await remote.json<Array<{ workerId: string; seenAt: number }>>(["workers"]);
    expect(workers.length).toBeGreaterThan(0);
    expect(typeof workers[0]?.seenAt).toBe("number");

    // Nothing of this sandbox's own backends was opened: every command went to the server.
    expect(fs.existsSync(path.join(remote.dir, "broker.db"))).toBe(false);
    expect(fs.existsSync(path.join(remote.dir, "tracking.db"))).toBe(false);
  });

  it("cancels a running task and requeues it", async () => {
    const id = (await remote.run(["submit", "demo.sleep", '{"ms":30000}'])).stdout.trim();
    await statusOf(id, "STARTED");
    const cancel = await remote.run(["cancel", id]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancel requested for ${id}`);
    await statusOf(id, "CANCELED");
    const requeued = await remote.json<Record_>(["requeue", id]);
    expect(requeued).toMatchObject({ id, run: 1 });
  });

  it("lists and requeues the dead-letter queue", async () => {
    const failed = await remote.run([
      "submit",
      "demo.fail",
      '{"message":"remote boom"}',
      "--max-retries",
      "0",
      "--wait",
    ]);
    expect(failed.code).toBe(3);
    const id = /^id\s+(\S+)/m.exec(failed.stdout)?.[1] as string;
    expect(id).toBeTruthy();
    const dlq = await remote.json<{ entries: Array<{ id: string; reason: string }> }>([
      "dlq",
      "list",
    ]);
    expect(dlq.entries).toContainEqual(
      expect.objectContaining({ id, reason: "retries_exhausted" }),
    );
    const again = await remote.json<{ requeued: Record_[] }>(["dlq", "requeue", "--id", id]);
    expect(again.requeued).toEqual([expect.objectContaining({ id, run: 1 })]);
  });

  it("prints the server's message for a refused request, a bad key and an unreachable server", async () => {
    const badId = await remote.run(["status", "not-an-id"]);
    expect(badId.code).toBe(1);
    expect(badId.stderr).toMatch(/^gotaskq: .*must be a lowercase UUID/);

    const unknown = await remote.run(["submit", "demo.nope", "--allow-unknown"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown function_key "demo\.nope"/);

    const wrongKey = await remote.run(["queues"], { env: { GOTASKQ_API_KEY: "gtq_wrong" } });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrongKey.stderr).toMatch(/API key/i);

    const gone = await remote.run(["queues"], { env: { GOTASKQ_API_URL: "http://127.0.0.1:9" } });
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/cannot reach the GoTaskQ API at http:\/\/127\.0\.0\.1:9/);
  });
});

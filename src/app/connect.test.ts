import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../logging/logger.js";
import { defineTasks } from "../tasks/registry.js";
import { connect, type GoTaskQClient } from "./connect.js";

// connect() opens what the CLI would open from the same GOTASKQ_* variables: what it submits is
// tracked, a worker it starts runs on the same broker, idempotency keys reach the coordination
// store the broker URL implies.

const opened: GoTaskQClient[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function connected(options: Parameters<typeof connect>[0] = {}): Promise<GoTaskQClient> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-connect-"));
  dirs.push(dir);
  const client = await connect({
    env: {
      GOTASKQ_BROKER_URL: `sqlite://${path.join(dir, "broker.db")}`,
      GOTASKQ_TRACKING_URL: `sqlite://${path.join(dir, "tracking.db")}`,
      GOTASKQ_CONCURRENCY: "4",
    },
    logger: silentLogger(),
    ...options,
  });
  opened.push(client);
  return client;
}

describe("connect()", () => {
  it("resolves the configuration as the CLI does: GOTASKQ_* variables, then config", async () => {
    const gtq = await connected({ config: { queues: ["mail"] } });
    expect(gtq.config.concurrency).toBe(4);
    expect(gtq.config.queues).toEqual(["mail"]);
    expect(gtq.broker.kind).toBe("sqlite");
  });

  it("tracks what it submits, and a worker it starts runs it to SUCCESS", async () => {
    const gtq = await connected();
    const { id } = await gtq.producer.submit({
      function_key: "text.upper",
      payload: { text: "hi" },
    });
    await gtq.startWorker(
      defineTasks({ "text.upper": async (p: { text: string }) => p.text.toUpperCase() }),
    );
    const done = await gtq.wait(id, { timeoutMs: 10_000, pollMs: 20 });
    expect(done).toMatchObject({ id, status: "SUCCESS", result: "HI", functionKey: "text.upper" });
    expect((await gtq.tracking.get(id))?.status).toBe("SUCCESS");
  });

  it("takes idempotency keys in the coordination store the broker URL implies", async () => {
    const gtq = await connected();
    const task = { function_key: "a.b", idempotency_key: "order-1" };
    const first = await gtq.producer.submit(task);
    const again = await gtq.producer.submit(task);
    expect(again).toMatchObject({ id: first.id, duplicate: true });
  });

  it("says that GOTASKQ_API_URL is not used: it opens the backends itself", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });
    const gtq = await connected({ logger, config: { apiUrl: "http://127.0.0.1:8080" } });
    expect(gtq.broker.kind).toBe("sqlite");
    expect(lines.join("")).toMatch(
      /GOTASKQ_API_URL is set, but connect\(\) does not go through a server/,
    );
  });

  it("refuses unknown keys when given a registry", async () => {
    const gtq = await connected({ registry: defineTasks({ "a.b": () => 1 }) });
    await expect(gtq.producer.submit({ function_key: "a.c" })).rejects.toThrow(
      /unknown function_key "a.c"/,
    );
  });

  it("gives up waiting after timeoutMs with the last tracked status", async () => {
    const gtq = await connected();
    const { id } = await gtq.producer.submit({ function_key: "nobody.runs" });
    await expect(gtq.wait(id, { timeoutMs: 300, pollMs: 20 })).rejects.toThrow(
      /not final after 300 ms \(last tracked status: PENDING\)/,
    );
  });
});

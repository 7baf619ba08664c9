import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { startDelayingProxy } from "../support/delaying-proxy.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";
import { type Fauxqs, startFauxqs } from "../support/fauxqs.js";
import { SERVICES, serviceAvailable } from "../support/services.js";

// Idempotent submission end to end, against real `gotaskq dev` processes: concurrent copies of
// one submission on every broker, a client that times out and retries through a proxy that
// delays the 202, a producer killed with SIGKILL between taking the key and publishing, and an
// unknown coordination scheme at start-up.

const tag = () => randomBytes(4).toString("hex");

/** The tasks the dev server's tracking store knows, once `id` has succeeded. */
async function tasksAfterSuccess(dev: DevServer, id: string): Promise<Array<{ id: string }>> {
  await eventually(
    async () => {
      const r = await dev.api(`/v1/tasks/${id}`);
      return (r.json as { status?: string }).status === "SUCCESS" ? true : undefined;
    },
    30_000,
    `task ${id} to succeed`,
  );
  // Give a second copy, had there been one, time to run and be tracked.
  await new Promise((r) => setTimeout(r, 1_500));
  const page = await dev.api("/v1/tasks?function_key=demo.echo&limit=100");
  return (page.json as { tasks: Array<{ id: string }> }).tasks;
}

async function tenCopies(dev: DevServer): Promise<void> {
  const key = `ten-${tag()}`;
  const answers = await Promise.all(
    Array.from({ length: 10 }, async () => {
      const response = await fetch(`${dev.restUrl}/v1/tasks`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_KEY}`,
          "content-type": "application/json",
          "idempotency-key": key,
        },
        body: JSON.stringify({ function_key: "demo.echo", payload: { key } }),
      });
      return { status: response.status, body: (await response.json()) as { id: string } };
    }),
  );
  const ids = new Set(answers.map((a) => a.body.id));
  expect(ids.size, JSON.stringify(answers)).toBe(1);
  expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
  expect(answers.filter((a) => a.status === 200)).toHaveLength(9);
  const [id] = [...ids] as [string];
  expect((await tasksAfterSuccess(dev, id)).map((t) => t.id)).toEqual([id]);
}

describe("10 concurrent REST submissions with one key: one task runs, 10 answers carry its id", () => {
  it("on the SQLite broker (embedded coordination store, no setting)", async () => {
    const dev = await startDevServer();
    try {
      await tenCopies(dev);
    } finally {
      await dev.box.cleanup();
    }
  });

  it("on the Redis broker (coordination on the same Redis by default)", async (ctx) => {
    if (!(await serviceAvailable("redis"))) return ctx.skip();
    const dev = await startDevServer({
      GOTASKQ_BROKER_URL: `${SERVICES.redis.url}/0?prefix=idem-${tag()}`,
    });
    try {
      await tenCopies(dev);
    } finally {
      await dev.box.cleanup();
    }
  });

  it("on the RabbitMQ broker (coordination in a SQLite file)", async (ctx) => {
    if (!(await serviceAvailable("rabbitmq"))) return ctx.skip();
    const dev = await startDevServer({
      GOTASKQ_BROKER_URL: `${SERVICES.rabbitmq.url}?prefix=idem${tag()}.`,
      GOTASKQ_COORDINATION_URL: "sqlite://coordination.db",
    });
    try {
      await tenCopies(dev);
    } finally {
      await dev.box.cleanup();
    }
  });

  describe("on SQS (fauxqs)", () => {
    let fauxqs: Fauxqs;
    beforeAll(async () => {
      fauxqs = await startFauxqs();
    });
    afterAll(() => fauxqs?.stop());

    it("with coordination in a SQLite file", async () => {
      const dev = await startDevServer({
        GOTASKQ_BROKER_URL: `sqs://?region=us-east-1&endpoint=${fauxqs.endpoint}&prefix=i${tag()}-`,
        GOTASKQ_COORDINATION_URL: "sqlite://coordination.db",
      });
      try {
        await tenCopies(dev);
      } finally {
        await dev.box.cleanup();
      }
    });
  });
});

describe("a client that times out and retries", () => {
  it("gets the first task's id back through a proxy that delayed the 202, and it runs once", async () => {
    const dev = await startDevServer();
    const target = new URL(dev.restUrl);
    const proxy = await startDelayingProxy(
      { host: target.hostname, port: Number(target.port) },
      { delayMs: 3_000, delayedConnections: 1 },
    );
    try {
      const key = `retry-${tag()}`;
      const send = () =>
        fetch(`${proxy.url}/v1/tasks`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${ADMIN_KEY}`,
            "content-type": "application/json",
            "idempotency-key": key,
          },
          body: JSON.stringify({ function_key: "demo.echo", payload: { key } }),
          signal: AbortSignal.timeout(1_000),
        });
      await expect(send()).rejects.toThrow(/timeout|aborted/i);
      const retried = await send();
      const body = (await retried.json()) as { id: string; duplicate: boolean };
      expect(retried.status).toBe(200);
      expect(body.duplicate).toBe(true);
      expect((await tasksAfterSuccess(dev, body.id)).map((t) => t.id)).toEqual([body.id]);
    } finally {
      await proxy.close();
      await dev.box.cleanup();
    }
  });
});

describe("a producer killed with SIGKILL between taking the key and publishing", () => {
  it("does not hold the key for its TTL: a retry within seconds enqueues the task once", async () => {
    const dev = await startDevServer();
    const key = `crash-${tag()}`;
    const script = fileURLToPath(new URL("../support/claim-then-hang.ts", import.meta.url));
    const brokerUrl = `sqlite://${path.join(dev.box.dir, "broker.db")}`;
    const coordinationUrl = `sqlite://${path.join(dev.box.dir, "coordination.db")}`;
    let victim: ChildProcess | undefined;
    try {
      victim = spawn(
        process.execPath,
        ["--import", "tsx", script, brokerUrl, coordinationUrl, key, "2000"],
        { stdio: ["ignore", "pipe", "inherit"] },
      );
      const claimedId = await new Promise<string>((resolve, reject) => {
        let out = "";
        victim?.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
          out += chunk;
          const match = /CLAIMED (\S+)/.exec(out);
          if (match) resolve(match[1] as string);
        });
        victim?.once("exit", (code) => reject(new Error(`the producer exited (${code}): ${out}`)));
      });
      victim.kill("SIGKILL");
      await new Promise((resolve) => victim?.once("exit", resolve));
      const started = Date.now();
      const retry = await dev.api("/v1/tasks", {
        body: { function_key: "demo.echo", payload: { crash: true }, idempotency_key: key },
      });
      const waited = Date.now() - started;
      console.log(`kill -9 retry answered ${retry.status} after ${waited} ms`);
      expect(retry.status).toBe(202);
      // The retry took over the dead claim's task id: had the dead producer published after
      // all, both would be one task, not two.
      expect(retry.json).toMatchObject({ id: claimedId, duplicate: false });
      expect(waited).toBeLessThan(10_000);
      expect((await tasksAfterSuccess(dev, claimedId)).map((t) => t.id)).toEqual([claimedId]);
      const again = await dev.api("/v1/tasks", {
        body: { function_key: "demo.echo", payload: { crash: true }, idempotency_key: key },
      });
      expect(again).toMatchObject({ status: 200, json: { id: claimedId, duplicate: true } });
    } finally {
      if (victim && victim.exitCode === null && victim.signalCode === null) victim.kill("SIGKILL");
      await dev.box.cleanup();
    }
  });
});

describe("unique tasks", () => {
  it("answers 1,000 submissions of one key while the first is queued (no worker) with 1 task and 999 duplicates", async () => {
    const box = new Sandbox({ GOTASKQ_API_KEYS: ADMIN_KEY });
    try {
      const server = await box.start(["server"], { readyText: "GoTaskQ server" });
      const restUrl = /REST (http:\/\/\S+),/.exec(server.output())?.[1];
      if (!restUrl) throw new Error(`no REST URL in: ${server.output()}`);
      const submit = async (i: number) => {
        const response = await fetch(`${restUrl}/v1/tasks`, {
          method: "POST",
          headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
          body: JSON.stringify({
            function_key: "report.build",
            payload: { user_id: 7, attempt: i },
            unique: { key: "{{payload.user_id}}" },
          }),
        });
        return {
          status: response.status,
          body: (await response.json()) as Record<string, unknown>,
        };
      };
      const first = await submit(0);
      expect(first.status).toBe(202);
      const others: Array<Awaited<ReturnType<typeof submit>>> = [];
      for (let wave = 0; wave < 999; wave += 111) {
        others.push(
          ...(await Promise.all(Array.from({ length: 111 }, (_, j) => submit(wave + j + 1)))),
        );
      }
      expect(others.filter((o) => o.status === 200 && o.body.duplicate === true)).toHaveLength(999);
      expect(new Set(others.map((o) => o.body.id))).toEqual(new Set([first.body.id]));
      const queues = await fetch(`${restUrl}/v1/queues`, {
        headers: { authorization: `Bearer ${ADMIN_KEY}` },
      });
      const stats = (await queues.json()) as { queues: Array<{ queue: string; ready: number }> };
      expect(stats.queues.find((q) => q.queue === "default")?.ready).toBe(1);
      const metrics = await (
        await fetch(`${restUrl}/metrics`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } })
      ).text();
      expect(metrics).toMatch(/gotaskq_tasks_duplicate_total 999/);
      expect(server.output()).toMatch(/"event":"duplicate_submission"/);
    } finally {
      await box.cleanup();
    }
  });

  it("lets the next submission enqueue once the worker has started the task", async () => {
    const dev = await startDevServer();
    try {
      const body = {
        function_key: "demo.echo",
        payload: { report: "r1" },
        unique: { key: "{{payload.report}}" },
      };
      const first = await dev.api("/v1/tasks", { body });
      expect(first.status).toBe(202);
      const id = (first.json as { id: string }).id;
      await tasksAfterSuccess(dev, id);
      const next = await dev.api("/v1/tasks", { body });
      expect(next.status).toBe(202);
      expect((next.json as { id: string }).id).not.toBe(id);
    } finally {
      await dev.box.cleanup();
    }
  });
});

describe("bad coordination configuration", () => {
  it("fails start-up on an unknown scheme, naming GOTASKQ_COORDINATION_URL", async () => {
    const box = new Sandbox({ GOTASKQ_COORDINATION_URL: "mysql://nowhere/db" });
    try {
      const result = await box.run(["server"], { timeoutMs: 30_000 });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(
        /GOTASKQ_COORDINATION_URL "mysql:\/\/nowhere\/db" has an unknown scheme/,
      );
    } finally {
      await box.cleanup();
    }
  });

  it("answers 503 to a keyed submission while the coordination store is unreachable; others are unaffected", async () => {
    const dev = await startDevServer({ GOTASKQ_COORDINATION_URL: "redis://127.0.0.1:1" });
    try {
      const started = Date.now();
      const keyed = await dev.api("/v1/tasks", {
        body: { function_key: "demo.echo", idempotency_key: "down" },
      });
      expect(keyed.status).toBe(503);
      expect(Date.now() - started).toBeLessThan(15_000);
      const plain = await dev.api("/v1/tasks", { body: { function_key: "demo.echo" } });
      expect(plain.status).toBe(202);
    } finally {
      await dev.box.cleanup();
    }
  });

  it("refuses a keyed submission with 503 naming the variable when coordination is none", async () => {
    const dev = await startDevServer({ GOTASKQ_COORDINATION_URL: "none" });
    try {
      const keyed = await dev.api("/v1/tasks", {
        body: { function_key: "demo.echo", idempotency_key: "k" },
      });
      expect(keyed.status).toBe(503);
      expect(String((keyed.json as { detail: string }).detail)).toMatch(/GOTASKQ_COORDINATION_URL/);
      const plain = await dev.api("/v1/tasks", { body: { function_key: "demo.echo" } });
      expect(plain.status).toBe(202);
    } finally {
      await dev.box.cleanup();
    }
  });
});

describe("CLI", () => {
  it("submit --idempotency-key prints the same id and says it is a duplicate", async () => {
    const box = new Sandbox();
    try {
      const args = [
        "submit",
        "demo.echo",
        '{"cli":1}',
        "--allow-unknown",
        "--idempotency-key",
        "cli-1",
      ];
      const first = await box.run(args);
      const second = await box.run(args);
      expect(first.code, first.stderr).toBe(0);
      expect(second.code, second.stderr).toBe(0);
      expect(second.stdout).toBe(first.stdout);
      expect(first.stderr).not.toMatch(/duplicate/);
      expect(second.stderr).toMatch(/duplicate: task .* was already submitted/);
    } finally {
      await box.cleanup();
    }
  });
});

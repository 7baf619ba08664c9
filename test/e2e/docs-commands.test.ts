import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRabbitBroker } from "../../src/broker/rabbitmq/rabbitmq-broker.js";
import {
  bash,
  cloneForUser,
  markedBlock,
  type Running,
  start,
  stop,
  USER_TIMEOUT_MS,
  userEnv,
} from "../support/as-a-user.js";
import { answerPasswordPrompts } from "../support/password-prompts.js";
import { pollUntil } from "../support/poll-until.js";
import { deleteKeys, testPrefix } from "../support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../support/services.js";

// The shell blocks of README.md and docs/ that readme-quick-start.test.ts does not run, run the
// same way: in a fresh clone of the repository, beside a running `npm start`, each block after
// its `<!-- run as written by test/e2e/docs-commands.test.ts: <name> -->` marker given to bash,
// and what it did checked (tasks ending as promised, a schedule listed, a revoked key refused).
// test/docs-shell-blocks.test.ts makes sure no shell block goes unmarked.
//
// A block runs as written except for these substitutions, each made on text the block must
// contain (a block that no longer has it fails here, rather than run untested):
//   http://127.0.0.1:8080          → the REST URL of the dev under test (it takes a free port:
//                                    parallel suites, or a developer's own dev, may hold 8080)
//   https://gotaskq.example.com    → the same URL (docs/cli.md's "your server")
//   GOTASKQ_API_KEY=gtq_…          → that dev's key (docs/cli.md's "your key")
//   `gotaskq` (docs/cli.md, a global install) → a `gotaskq` on PATH that runs the clone's CLI
//   $PASS (docs/dashboard.md, a CI secret)    → set in the environment by this test
//   the password prompts (docs/dashboard.md)  → answered on a pseudo-terminal (util-linux script)
//   broker and tracking URLs (docs/backends)  → the same local server, under a prefix of this run
//                                               (parallel suites and developers share it)
//   fauxqs's port 4566 (docs/backends/sqs.md) → a free port, through FAUXQS_PORT
//   `npx fauxqs &` (docs/backends/sqs.md)     → npx fauxqs in a process group of its own, waited
//                                               for until it listens before dev starts (as a user
//                                               sees it start before typing the next line)

const THIS = "test/e2e/docs-commands.test.ts";
const doc = (file: string, name: string): string => markedBlock(file, THIS, name);

/** `block` with each [from, to] replaced; fails if a `from` is not in it. */
function substitute(block: string, table: [string, string][]): string {
  let text = block;
  for (const [from, to] of table) {
    if (!text.includes(from)) throw new Error(`the block no longer contains ${from}:\n${block}`);
    text = text.replaceAll(from, to);
  }
  return text;
}

/** The block's command lines, comments and blank lines left out. */
const commandLines = (block: string): string[] =>
  block.split("\n").filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#"));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Task {
  id: string;
  functionKey: string;
  status: string;
  run: number;
  priority: number;
  payload: unknown;
  result?: unknown;
}

const rabbitmq = await serviceAvailable("rabbitmq");
const redis = await serviceAvailable("redis");
/** util-linux `script`, for the password prompts (as test/e2e/dashboard-operators.test.ts). */
const hasScript = spawnSync("script", ["--help"]).stdout?.toString().includes("--echo") ?? false;

describe("README and docs shell blocks, run as written in a fresh clone", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "gotaskq-docs-"));
  const clone = path.join(root, "gotaskq");
  let npmStart: Running | undefined;
  let restUrl = "";
  let key = "";

  /** The clone's own CLI, as a user in the clone runs it (no GOTASKQ_* unless given). */
  const cli = (args: string[], env: Record<string, string> = {}): string =>
    execFileSync(process.execPath, ["dist/cli/main.js", ...args], {
      cwd: clone,
      env: userEnv(env),
      encoding: "utf8",
    });
  const tasks = (): Task[] =>
    (JSON.parse(cli(["list", "--limit", "500", "--json"])) as { tasks: Task[] }).tasks;
  const taskWith = (functionKey: string, payload: unknown, priority = 5): Task[] =>
    tasks().filter(
      (t) =>
        t.functionKey === functionKey &&
        t.priority === priority &&
        JSON.stringify(t.payload) === JSON.stringify(payload),
    );
  /** Polls until exactly one such task has `status`; returns it. */
  const ends = (functionKey: string, payload: unknown, status: string, priority = 5) =>
    pollUntil(
      () => {
        const found = taskWith(functionKey, payload, priority);
        return found.length === 1 && found[0]?.status === status ? found[0] : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 250, what: `${functionKey} ${JSON.stringify(payload)}` },
    );
  const api = (route: string, withKey = key) =>
    fetch(`${restUrl}${route}`, { headers: { authorization: `Bearer ${withKey}` } });

  beforeAll(async () => {
    cloneForUser(clone);
  }, USER_TIMEOUT_MS);

  afterAll(async () => {
    await stop(npmStart);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  describe("beside npm start", () => {
    beforeAll(async () => {
      npmStart = await start("npm start", clone, "Stop with Ctrl+C");
      restUrl = /REST:\s+(http:\/\/\S+)/.exec(npmStart.output())?.[1] ?? "";
      const printed = /API key:\s+(gtq_\S+)/.exec(npmStart.output())?.[1];
      expect(restUrl).not.toBe("");
      // dev leaves the key it prints in .gotaskq/dev-api-key, readable by its owner only.
      const file = path.join(clone, ".gotaskq", "dev-api-key");
      key = readFileSync(file, "utf8").trim();
      expect(key).toBe(printed);
      expect(statSync(file).mode & 0o777).toBe(0o600);
    }, USER_TIMEOUT_MS);

    afterAll(async () => {
      await stop(npmStart);
      npmStart = undefined;
    }, 60_000);

    const local = (block: string): string =>
      substitute(block, [["http://127.0.0.1:8080", restUrl]]);

    it("README rest: curl with the dev's key submits demo.echo, which succeeds", async () => {
      const ran = bash(local(doc("README.md", "readme rest")), clone);
      expect(ran.code, ran.output).toBe(0);
      const { id } = JSON.parse(ran.output) as { id: string };
      const task = await ends("demo.echo", { hello: "world" }, "SUCCESS");
      expect(task).toMatchObject({ id, result: { hello: "world" } });
    }, 120_000);

    it("README schedules: heartbeat is added and listed; its tasks list", () => {
      const ran = bash(doc("README.md", "readme schedules"), clone);
      expect(ran.code, ran.output).toBe(0);
      expect(ran.output).toMatch(/heartbeat\s+every 1m\s+demo\.echo\s+active/);
      expect(ran.output).toMatch(/^ID\s+STATUS\s+FUNCTION/m); // list --schedule's table
      // docs/schedules.md adds heartbeat again, as a reader of that page alone would.
      cli(["schedules", "remove", "heartbeat"]);
    }, 120_000);

    it("docs/schedules.md: heartbeat, nightly (paused) and ping over REST", () => {
      const ran = bash(local(doc("docs/schedules.md", "schedules")), clone);
      expect(ran.code, ran.output).toBe(0);
      expect(ran.output).toMatch(/nightly\s+0 3 \* \* \*/);
      expect(ran.output).toContain('"id":"ping"');
      const schedules = JSON.parse(cli(["schedules", "list", "--json"])) as {
        id: string;
        paused: boolean;
        timezone?: string;
      }[];
      const byId = Object.fromEntries(schedules.map((s) => [s.id, s]));
      expect(byId.heartbeat).toMatchObject({ paused: false });
      expect(byId.nightly).toMatchObject({ paused: true, timezone: "America/New_York" });
      expect(byId.ping).toMatchObject({ paused: false });
    }, 120_000);

    it("docs/api.md keys: a created key works, is listed without its secret, refused once revoked", async () => {
      const [create, list, revoke] = commandLines(doc("docs/api.md", "api keys"));
      if (!create || !list || !revoke) throw new Error("the keys block has three lines");
      const created = bash(create, clone);
      expect(created.code, created.output).toBe(0);
      const billing = created.output.trim();
      expect(billing).toMatch(/^gtq_\S+$/);
      expect((await api("/v1/tasks", billing)).status).toBe(200);
      const listed = bash(list, clone);
      expect(listed.output).toMatch(/billing\s+gtq_\S*…\s+submit,read/);
      expect(listed.output).not.toContain(billing);
      expect(bash(revoke, clone).output).toContain("revoked billing");
      expect((await api("/v1/tasks", billing)).status).toBe(401);
    }, 120_000);

    it("docs/api.md rest: submit, batch, get, list, logs, idempotent submit, cancel, requeue", async () => {
      const ran = bash(local(doc("docs/api.md", "api rest")), clone);
      expect(ran.code, ran.output).toBe(0);
      expect(ran.output).not.toContain("urn:gotaskq:problem"); // no call was refused
      const echo = await ends("demo.echo", { hello: "world" }, "SUCCESS", 7);
      expect(ran.output).toContain(`"id":"${echo.id}"`); // the get
      expect(ran.output).toContain('"lines":['); // the logs
      await ends("demo.echo", { n: 1 }, "SUCCESS");
      await ends("demo.sleep", { ms: 500 }, "SUCCESS");
      await ends("demo.echo", { order: 1234 }, "SUCCESS");
      // Canceled, then requeued: it runs again as run 1.
      const slow = taskWith("demo.sleep", { ms: 60000 });
      expect(slow).toHaveLength(1);
      expect(slow[0]?.run).toBe(1);
    }, 120_000);

    it("docs/cli.md remote: gotaskq through GOTASKQ_API_URL submits and waits, lists, requeues", async () => {
      const bin = path.join(root, "bin");
      mkdirSync(bin, { recursive: true });
      writeFileSync(
        path.join(bin, "gotaskq"),
        `#!/bin/sh\nexec "${process.execPath}" "${path.join(clone, "dist/cli/main.js")}" "$@"\n`,
      );
      chmodSync(path.join(bin, "gotaskq"), 0o755);
      const block = substitute(doc("docs/cli.md", "cli remote"), [
        ["https://gotaskq.example.com", restUrl],
        ["GOTASKQ_API_KEY=gtq_…", `GOTASKQ_API_KEY=${key}`],
      ]);
      // Outside the clone: with GOTASKQ_API_URL nothing local is opened.
      const ran = bash(block, root, { PATH: `${bin}:${process.env.PATH}` });
      expect(ran.code, ran.output).toBe(0);
      expect(ran.output).toContain("SUCCESS");
      expect(ran.output).toMatch(/^ID\s+STATUS\s+FUNCTION/m);
      await ends("demo.echo", { to: "a@example.com" }, "SUCCESS");
    }, 120_000);

    it.skipIf(!hasScript)(
      "docs/dashboard.md operators: added at the prompt and from stdin, replaced, listed, removed",
      async () => {
        const pass = `ci viewer ${randomBytes(6).toString("hex")}`;
        // Not containing the name: the CLI refuses a password that contains it.
        const typed = `typed at the prompt ${randomBytes(6).toString("hex")}`;
        const script = path.join(root, "operators.sh");
        writeFileSync(script, doc("docs/dashboard.md", "operators"));
        const { code, output, answered } = await answerPasswordPrompts(`bash '${script}'`, {
          cwd: clone,
          env: userEnv({ PASS: pass }),
          password: typed,
        });
        expect(code, output).toBe(0);
        expect(answered).toBe(4); // twice for the add, twice for the --replace
        expect(output).not.toContain(typed);
        expect(output).toMatch(/alice\s+viewer/); // the list, before the remove
        const operators = JSON.parse(cli(["operators", "list", "--json"])) as {
          name: string;
          role: string;
        }[];
        expect(operators).toContainEqual(
          expect.objectContaining({ name: "ci-viewer", role: "viewer" }),
        );
        expect(operators.map((o) => o.name)).not.toContain("alice");
        // The running dev reads the file: ci-viewer logs in with $PASS; alice no longer can.
        const login = (username: string, password: string) =>
          fetch(`${restUrl}/auth/login`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ username, password }),
          });
        expect((await login("ci-viewer", pass)).status).toBe(200);
        expect((await login("alice", typed)).status).toBe(401);
      },
      120_000,
    );
  });

  describe("the backends' blocks (npm start stopped)", () => {
    /**
     * Starts the block's dev, then submits a demo task with the CLI against the same backends
     * (`submitScript` from the block's lines) and expects it to succeed.
     */
    async function devRunsATask(devScript: string, submitScript: string): Promise<string> {
      const dev = await start(devScript, clone, "Stop with Ctrl+C");
      try {
        const submitted = bash(submitScript, clone);
        expect(submitted.code, `${submitted.output}\n--- dev:\n${dev.output()}`).toBe(0);
        expect(submitted.output).toContain("SUCCESS");
        return dev.output();
      } finally {
        await stop(dev);
      }
    }
    const submitDemo = (on: string) => `npx gotaskq submit demo.echo '{"on":"${on}"}' --wait`;
    const exportLine = (block: string): string => {
      const line = commandLines(block).find((l) => l.startsWith("export "));
      if (!line) throw new Error(`no export line in:\n${block}`);
      return line;
    };

    it.skipIf(!rabbitmq)(
      "docs/backends/rabbitmq.md: dev on RabbitMQ runs a task",
      async () => {
        const prefix = `docs-${randomBytes(5).toString("hex")}.`;
        const block = substitute(doc("docs/backends/rabbitmq.md", "rabbitmq"), [
          ["amqp://guest:guest@127.0.0.1:5672/", `${SERVICES.rabbitmq.url}/`],
          ["?queue_type=classic'", `?queue_type=classic&prefix=${prefix}'`],
        ]);
        const url = /GOTASKQ_BROKER_URL='([^']+)'/.exec(block)?.[1] as string;
        try {
          const output = await devRunsATask(
            block,
            `${exportLine(block)}\n${submitDemo("rabbitmq")}`,
          );
          expect(output).toContain(`broker:    ${url}`);
        } finally {
          // What the dev declared under the prefix (queues, exchanges, the revocations stream).
          const admin = openRabbitBroker(url);
          try {
            await admin.destroy();
          } finally {
            await admin.close();
          }
        }
      },
      120_000,
    );

    it.skipIf(!redis)(
      "docs/backends/redis.md: dev on the Redis broker, then on Redis tracking",
      async () => {
        const prefix = testPrefix("docs");
        try {
          const broker = substitute(doc("docs/backends/redis.md", "redis broker"), [
            ["'redis://127.0.0.1:6379'", `'${SERVICES.redis.url}?prefix=${prefix}'`],
          ]);
          await devRunsATask(broker, `${exportLine(broker)}\n${submitDemo("redis broker")}`);
          const tracking = substitute(doc("docs/backends/redis.md", "redis tracking"), [
            ["redis://127.0.0.1:6379?prefix=gotaskq&", `${SERVICES.redis.url}?prefix=${prefix}&`],
          ]);
          await devRunsATask(tracking, `${exportLine(tracking)}\n${submitDemo("redis tracking")}`);
        } finally {
          await deleteKeys(SERVICES.redis.url, `*${prefix}*`);
        }
      },
    );

    it("docs/backends/sqs.md: fauxqs, and dev against it", async () => {
      const port = String(await freePort());
      const block = substitute(doc("docs/backends/sqs.md", "sqs fauxqs"), [
        ["127.0.0.1:4566", `127.0.0.1:${port}`],
      ]);
      const [fauxqsLine, devLine] = commandLines(block);
      if (!fauxqsLine?.startsWith("npx fauxqs &") || !devLine?.endsWith("npx gotaskq dev"))
        throw new Error(`the block is no longer fauxqs then dev:\n${block}`);
      // As a user types them: fauxqs in the background, then dev once it listens.
      const fauxqs = await start(fauxqsLine.replace(/&.*$/, ""), clone, /listening/i, {
        FAUXQS_PORT: port,
      });
      try {
        await devRunsATask(devLine, devLine.replace("npx gotaskq dev", submitDemo("sqs")));
      } finally {
        await stop(fauxqs);
      }
    }, 120_000);
  });
});

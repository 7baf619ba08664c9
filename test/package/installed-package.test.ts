import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openRabbitBroker } from "../../src/broker/rabbitmq/rabbitmq-broker.js";
import { deleteKeys, testPrefix, trackingKeys } from "../support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../support/services.js";
import { exited, PackedProject } from "./packed-project.js";
import { importedPackages } from "./runtime-imports.js";

// GoTaskQ as a user gets it: packed, installed with runtime dependencies only into an empty
// project, its CLI run from node_modules/.bin on each backend with a task module of the project,
// and its library imported from TypeScript. Everything the repository's own node_modules would
// hide (a dependency declared only for development, a file left out of "files", a broken
// "types" or "exports" entry) fails here.

const redisUp = await serviceAvailable("redis");
const rabbitUp = await serviceAvailable("rabbitmq");

const REPO = process.cwd();
// Compiling better-sqlite3 from source took 2½ minutes of it on the 2-core machine (GitHub, where
// its prebuilt binaries live, is out of reach); the install now finds the repository's own
// binding as a local prebuild (packed-project.ts) and takes seconds. The bound covers a compile.
const INSTALL_TIMEOUT_MS = 10 * 60_000;
const RUN_TIMEOUT_MS = 120_000;

const project = new PackedProject();
const redisPrefix = testPrefix("package");
const rabbitPrefix = `gotaskq-package-${Date.now().toString(36)}-${process.pid}.`;

function withQuery(url: string, options: Record<string, string>): string {
  const parsed = new URL(url);
  for (const [key, value] of Object.entries(options)) parsed.searchParams.set(key, value);
  return parsed.toString();
}

const redisUrl = withQuery(SERVICES.redis.url, { prefix: redisPrefix });
const rabbitUrl = withQuery(SERVICES.rabbitmq.url, { prefix: rabbitPrefix });

beforeAll(async () => {
  const started = Date.now();
  await project.pack(REPO);
  await project.install(INSTALL_TIMEOUT_MS, REPO);
  console.info(`packed and installed gotaskq in ${Math.round((Date.now() - started) / 1000)} s`);
  // A TypeScript module, loaded by the worker through tsx, importing the package by its name
  // from the project's node_modules.
  project.write(
    "tasks.ts",
    `import { defineTasks, type TaskContext } from "gotaskq";

export default defineTasks({
  "package.shout": async (payload: { text: string }, ctx: TaskContext) => {
    ctx.log.info("shouting");
    return { shouted: payload.text.toUpperCase(), queue: ctx.queue };
  },
});
`,
  );
}, INSTALL_TIMEOUT_MS + 120_000);

afterAll(async () => {
  await project.cleanup();
  if (redisUp) {
    await deleteKeys(SERVICES.redis.url, `${redisPrefix}:*`);
    await deleteKeys(SERVICES.redis.url, trackingKeys(redisPrefix));
  }
  if (rabbitUp) {
    const admin = openRabbitBroker(rabbitUrl);
    try {
      await admin.destroy();
    } finally {
      await admin.close();
    }
  }
}, 60_000);

describe("the packed tarball", () => {
  it("holds what the CLI and the library load at run time, and nothing of the sources", () => {
    const files = project.files.map((f) => f.path);
    const manifest = JSON.parse(readFileSync(path.join(REPO, "package.json"), "utf8")) as {
      bin: Record<string, string>;
      main: string;
      types: string;
      exports: Record<string, { types: string; default: string }>;
    };
    const entryPoints = [
      ...Object.values(manifest.bin),
      manifest.main,
      manifest.types,
      ...Object.values(manifest.exports).flatMap((entry) => [entry.types, entry.default]),
    ].map((file) => path.posix.normalize(file));
    expect(files).toEqual(
      expect.arrayContaining([
        "package.json",
        ...entryPoints,
        "dist/dashboard/index.html",
        "proto/gotaskq/v1/tasks.proto",
      ]),
    );
    expect(files.some((f) => /^dist\/dashboard\/assets\/.+\.js$/.test(f))).toBe(true);
    expect(files.filter((f) => /^(src|test|web|bench|node_modules)\/|\.test\.js$/.test(f))).toEqual(
      [],
    );
  });

  it("declares every package its JavaScript imports as a runtime dependency", () => {
    const installed = path.join(project.dir, "node_modules", "gotaskq");
    const { dependencies } = JSON.parse(
      readFileSync(path.join(installed, "package.json"), "utf8"),
    ) as { dependencies: Record<string, string> };
    const imported = importedPackages(path.join(installed, "dist"));
    expect(imported.size).toBeGreaterThan(0);
    const undeclared = [...imported].filter(([name]) => !(name in dependencies));
    expect(undeclared.map(([name, file]) => `${name} (imported by dist/${file})`)).toEqual([]);
  });
});

/**
 * The record `submit --wait --json` prints: stdout holds that JSON document and nothing else (the
 * CLI's log lines, such as Redis's broker_warning when persistence is off, go to stderr), so
 * `gotaskq submit … --json | jq` works.
 */
function printedRecord(stdout: string): unknown {
  try {
    return JSON.parse(stdout);
  } catch {
    throw new Error(`submit --json printed more than one JSON document on stdout:\n${stdout}`);
  }
}

describe("the installed gotaskq binary", () => {
  /**
   * Starts `gotaskq worker` with the project's task module, submits one task and waits for it,
   * then stops the worker with SIGTERM: the task must succeed and the worker exit 0.
   */
  async function runsATask(env: Record<string, string>, text: string): Promise<void> {
    const worker = await project.start(["worker", "--tasks", "tasks.ts"], env, "GoTaskQ worker");
    const submitted = await project.gotaskq(
      ["submit", "package.shout", JSON.stringify({ text }), "--wait", "--json"],
      { ...env },
      RUN_TIMEOUT_MS / 2,
    );
    expect(submitted.code, `${submitted.stderr}\nworker:\n${worker.output()}`).toBe(0);
    expect(printedRecord(submitted.stdout)).toMatchObject({
      functionKey: "package.shout",
      status: "SUCCESS",
      result: { shouted: text.toUpperCase(), queue: "default" },
    });
    worker.child.kill("SIGTERM");
    const stopped = await exited(worker.child, 45_000);
    expect({ code: stopped.code, signal: stopped.signal }, worker.output()).toEqual({
      code: 0,
      signal: null,
    });
  }

  it(
    "runs a task on the embedded SQLite broker and tracking store",
    async () => {
      await runsATask(
        {
          GOTASKQ_BROKER_URL: `sqlite://${path.join(project.dir, "sqlite-broker.db")}`,
          GOTASKQ_TRACKING_URL: `sqlite://${path.join(project.dir, "sqlite-tracking.db")}`,
        },
        "from sqlite",
      );
    },
    RUN_TIMEOUT_MS,
  );

  it.skipIf(!redisUp)(
    "runs a task on Redis Streams with tracking in Redis",
    async () => {
      await runsATask(
        { GOTASKQ_BROKER_URL: redisUrl, GOTASKQ_TRACKING_URL: redisUrl },
        "from redis",
      );
    },
    RUN_TIMEOUT_MS,
  );

  it.skipIf(!rabbitUp)(
    "runs a task on RabbitMQ",
    async () => {
      await runsATask(
        {
          GOTASKQ_BROKER_URL: rabbitUrl,
          GOTASKQ_TRACKING_URL: `sqlite://${path.join(project.dir, "rabbit-tracking.db")}`,
        },
        "from rabbitmq",
      );
    },
    RUN_TIMEOUT_MS,
  );
});

describe("the installed library", () => {
  it(
    "type-checks a TypeScript application against the package's declarations",
    async () => {
      project.write(
        "app.ts",
        `import {
  defineTasks,
  openBroker,
  PermanentError,
  Producer,
  type SubmittedTask,
  type TaskContext,
  type TaskRecord,
  type TaskStatus,
} from "gotaskq";

const tasks = defineTasks({
  "text.upper": {
    maxRetries: 1,
    timeoutMs: 5_000,
    handler: async (payload: { text: string }, ctx: TaskContext) => {
      if (payload.text === "") throw new PermanentError("text must not be empty");
      ctx.log.info(\`attempt \${ctx.attempt}\`);
      return payload.text.toUpperCase();
    },
  },
});

const keys: string[] = tasks.keys();
const producer = new Producer({ broker: await openBroker("memory://") });
const submitted: SubmittedTask = await producer.submit({ function_key: "text.upper", payload: { text: "hi" } });
const id: string = submitted.id;
export const summary = (record: TaskRecord): string => \`\${record.id} \${record.status}\`;

// Proves the declarations are the package's own, not an implicit any.
// @ts-expect-error DONE is not a status
const wrong: TaskStatus = "DONE";
console.log(keys, id, wrong);
`,
      );
      project.write(
        "tsconfig.json",
        `${JSON.stringify(
          {
            compilerOptions: {
              target: "ES2022",
              module: "nodenext",
              moduleResolution: "nodenext",
              strict: true,
              noEmit: true,
              // The package's .d.ts files are checked too: one importing a type from a
              // devDependency breaks every user who does not skip library checks.
              skipLibCheck: false,
              // An application on Node has @types/node; borrowing the repository's saves an
              // install. Nothing else is taken from the repository.
              typeRoots: [path.join(REPO, "node_modules", "@types")],
              types: ["node"],
            },
            files: ["app.ts"],
          },
          null,
          2,
        )}\n`,
      );
      const tsc = createRequire(path.join(REPO, "package.json")).resolve("typescript/bin/tsc");
      const checked = await project.exec(process.execPath, [tsc, "-p", "tsconfig.json"], 90_000);
      expect(checked.code, checked.stdout + checked.stderr).toBe(0);
    },
    RUN_TIMEOUT_MS,
  );
});

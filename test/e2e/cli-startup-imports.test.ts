import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, Sandbox } from "../support/cli.js";

// The CLI starts fast because each command loads only what it uses (src/cli/main.ts); its times
// are measured by `npm run bench` (bench/cli-startup.ts), not here. This pins the cause: the
// packages a command loads, recorded by a module-loading hook in the CLI's own process.

const box = new Sandbox();

/** The npm packages `gotaskq <args>` loads, ESM and CommonJS alike. */
function packagesLoadedBy(args: string[]): Set<string> {
  const hooks = path.join(box.dir, "hooks.mjs");
  writeFileSync(
    hooks,
    `export async function load(url, context, next) {
      if (url.includes("/node_modules/")) process.stderr.write("LOADED " + url + "\\n");
      return next(url, context);
    }`,
  );
  const register = path.join(box.dir, "register.mjs");
  writeFileSync(
    register,
    `import { register } from "node:module";
    import Module from "node:module";
    register(${JSON.stringify(pathToFileURL(hooks).href)});
    // CommonJS files required from CommonJS packages bypass the ESM hook: record them here.
    const load = Module._load;
    Module._load = function (request, parent, ...rest) {
      const loaded = load.call(this, request, parent, ...rest);
      try {
        process.stderr.write("LOADED " + Module._resolveFilename(request, parent) + "\\n");
      } catch {}
      return loaded;
    };`,
  );
  const r = spawnSync(process.execPath, ["--import", register, CLI, ...args], {
    cwd: box.dir,
    env: { ...process.env, ...box.env },
    encoding: "utf8",
  });
  const names = [...r.stderr.matchAll(/^LOADED .*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//gm)];
  return new Set(names.map((m) => m[1] as string));
}

/**
 * What no task-reading command needs: transports, other backends, tsx, schemas, pretty logs.
 * (croner does load, one 33 kB file, about 9 ms: the service's input decoding checks
 * `list --schedule` ids with the schedules' own validation, which imports it.)
 */
const HEAVY = [
  "fastify",
  "@fastify/static",
  "@grpc/grpc-js",
  "@grpc/proto-loader",
  "tsx",
  "ajv",
  "amqplib",
  "ioredis",
  "@aws-sdk/client-sqs",
  "pg",
  "pino-pretty",
];

describe("gotaskq start-up: what each command loads", () => {
  afterAll(() => box.cleanup());

  it("--help loads commander alone", () => {
    expect([...packagesLoadedBy(["--help"])]).toEqual(["commander"]);
  });

  it("status loads the tracking store and nothing of the servers", () => {
    const loaded = packagesLoadedBy(["status", "0190a0a0-0000-7000-8000-000000000000"]);
    expect(loaded).toContain("better-sqlite3"); // it did reach the tracking store
    expect(HEAVY.filter((name) => loaded.has(name))).toEqual([]);
  });
});

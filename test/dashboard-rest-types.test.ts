import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import * as responseSchemas from "../src/api/rest/response-schemas.js";
import { restResponseTypes } from "../web/dashboard/scripts/generate-rest-types.js";

// The dashboard's REST types are generated from the server's response schemas: a field renamed
// on the server must fail the dashboard's type check. Checked on a copy of the dashboard (inside
// node_modules/.cache so React's types resolve) so the real generated file is left alone.

const run = promisify(execFile);
const repo = fileURLToPath(new URL("..", import.meta.url));

type Json = Record<string, unknown>;

/** `schemas` with `from` renamed to `to` in the object schema titled `title`. */
function renameField(schemas: Json, title: string, from: string, to: string): Json {
  // One structuredClone for the whole module keeps shared subschemas shared, as in the original.
  const copy = structuredClone({ ...schemas });
  const visit = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return;
    const schema = node as Json;
    if (schema.title === title) {
      const properties = schema.properties as Json;
      properties[to] = properties[from];
      delete properties[from];
      schema.required = (schema.required as string[]).map((name) => (name === from ? to : name));
      return;
    }
    for (const child of Object.values(schema)) visit(child);
  };
  for (const schema of Object.values(copy)) visit(schema);
  return copy;
}

describe("dashboard REST types", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it("fails the dashboard's type check when a response field it reads is renamed", async () => {
    const cache = `${repo}node_modules/.cache`;
    await mkdir(cache, { recursive: true });
    dir = await mkdtemp(`${cache}/gotaskq-dashboard-types-`);
    await cp(`${repo}web/dashboard/src`, `${dir}/src`, { recursive: true });
    const renamed = renameField(responseSchemas, "QueueStats", "in_flight", "inflight");
    await writeFile(`${dir}/src/rest-responses.gen.ts`, await restResponseTypes(renamed));
    await writeFile(
      `${dir}/tsconfig.json`,
      JSON.stringify({ extends: `${repo}web/dashboard/tsconfig.json`, include: ["src"] }),
    );

    const tsc = `${repo}node_modules/typescript/bin/tsc`;
    const check = run(process.execPath, [tsc, "-p", `${dir}/tsconfig.json`, "--noEmit"]);
    const failure = await check.then(
      () => undefined,
      (error: { stdout: string }) => error,
    );
    expect(failure, "the dashboard type-checked against a renamed field").toBeDefined();
    expect(failure?.stdout).toMatch(/overview\.tsx.*Property 'in_flight' does not exist/);
  }, 60_000);
});

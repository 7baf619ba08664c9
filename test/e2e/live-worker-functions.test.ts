import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// "Your own tasks" beside a running quick start (issue 15): `gotaskq dev` (its API knows the demo
// functions) and a separate `gotaskq worker --tasks tasks.ts` registering text.upper, on the same
// SQLite broker. The API hears the worker's presence on the broker and accepts its key over REST;
// the task runs there to SUCCESS. A key nobody registers is still refused (422). The task module
// sits in a folder with no package.json, as in a fresh project.

describe("the API accepts the function keys of live workers", () => {
  let dev: DevServer;

  beforeAll(async () => {
    dev = await startDevServer();
    writeFileSync(
      path.join(dev.box.dir, "tasks.ts"),
      'export default {\n  "text.upper": async (payload: { text: string }) => payload.text.toUpperCase(),\n};\n',
    );
    await dev.box.start(["worker", "--tasks", "tasks.ts"], { readyText: "GoTaskQ worker" });
  });
  afterAll(() => dev.box.cleanup());

  it("accepts (202) a key only another live worker registers, and that worker runs it to SUCCESS", async () => {
    const submitted = await dev.api("/v1/tasks", {
      body: { function_key: "text.upper", payload: { text: "hi" } },
    });
    expect(submitted.status, JSON.stringify(submitted.json)).toBe(202);
    const { id } = submitted.json as { id: string };
    const done = await eventually(
      async () => {
        const r = await dev.api(`/v1/tasks/${id}`);
        const record = r.json as { status: string; result?: unknown };
        return record.status === "SUCCESS" || record.status === "FAILURE" ? record : undefined;
      },
      20_000,
      `${id} to end`,
    );
    expect(done).toMatchObject({ status: "SUCCESS", result: "HI" });
  });

  it("refuses (422) a key that neither the server nor any live worker registers", async () => {
    const r = await dev.api("/v1/tasks", { body: { function_key: "text.lower" } });
    expect(r.status).toBe(422);
    expect((r.json as { detail: string }).detail).toMatch(
      /^unknown function_key "text\.lower"; did you mean "text\.upper"\?.*no live worker registers "text\.lower" either\)$/,
    );
  });

  it("takes the key from the CLI through the API (GOTASKQ_API_URL), and runs it", async () => {
    const remote = new Sandbox({ GOTASKQ_API_URL: dev.restUrl, GOTASKQ_API_KEY: ADMIN_KEY });
    try {
      const r = await remote.run(["submit", "text.upper", '{"text":"cli"}', "--wait", "--json"]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ status: "SUCCESS", result: "CLI" });
    } finally {
      await remote.cleanup();
    }
  });

  it("lists the live worker's key among the functions", async () => {
    const r = await dev.api("/v1/functions");
    expect(r.status).toBe(200);
    expect(JSON.stringify(r.json)).toContain('"text.upper"');
  });
});

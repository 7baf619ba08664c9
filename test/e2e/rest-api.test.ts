import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, Sandbox } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// The REST API of a real `gotaskq dev` process: submission, batch, cancel, requeue, the auth
// matrix and the bad-input matrix, each with the status and a message that says what to change,
// and nothing enqueued on rejection.

interface Problem {
  status: number;
  title: string;
  detail: string;
}

describe("REST API of gotaskq dev", () => {
  let dev: DevServer;
  let readerKey: string;
  let revokedKey: string;

  beforeAll(async () => {
    dev = await startDevServer();
    readerKey = (
      await dev.box.json<{ key: string }>([
        "keys",
        "create",
        "--name",
        "reader",
        "--scopes",
        "read",
      ])
    ).key;
    revokedKey = (
      await dev.box.json<{ key: string }>([
        "keys",
        "create",
        "--name",
        "gone",
        "--scopes",
        "submit,read,admin",
      ])
    ).key;
    expect((await dev.box.run(["keys", "revoke", "gone"])).code).toBe(0);
  });
  afterAll(() => dev.box.cleanup());

  const waitFor = (id: string, status: string) =>
    eventually(
      async () => {
        const r = await dev.api(`/v1/tasks/${id}`);
        return r.status === 200 && (r.json as { status: string }).status === status
          ? (r.json as Record<string, unknown>)
          : undefined;
      },
      15_000,
      `${id} to be ${status}`,
    );

  it("answers health, readiness and the OpenAPI document without a key", async () => {
    expect((await dev.api("/healthz", { key: null })).status).toBe(200);
    expect((await dev.api("/readyz", { key: null })).status).toBe(200);
    const openapi = await dev.api("/openapi.json", { key: null });
    expect(openapi.status).toBe(200);
    expect((openapi.json as { openapi: string }).openapi).toMatch(/^3\./);
  });

  it("submits a task that runs to SUCCESS", async () => {
    const r = await dev.api("/v1/tasks", {
      body: { function_key: "demo.echo", payload: { a: 1 } },
    });
    expect(r.status).toBe(202);
    const { id, status } = r.json as { id: string; status: string };
    expect(status).toBe("PENDING");
    expect(await waitFor(id, "SUCCESS")).toMatchObject({ result: { a: 1 } });
  });

  it("reads each submission right after its 202: GET never answers 404 for it", async () => {
    // A batch first, so the tracking writer is busy with a backlog while the singles follow.
    const tasks = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      payload: { i },
    }));
    expect((await dev.api("/v1/tasks/batch", { body: { tasks } })).status).toBe(202);
    for (let i = 0; i < 20; i++) {
      const submitted = await dev.api("/v1/tasks", { body: { function_key: "demo.echo" } });
      expect(submitted.status).toBe(202);
      const { id } = submitted.json as { id: string };
      const got = await dev.api(`/v1/tasks/${id}`);
      expect(got.status, JSON.stringify(got.json)).toBe(200);
      expect((got.json as { status: string }).status).toMatch(/^(PENDING|STARTED|SUCCESS)$/);
    }
  });

  it("accepts 998 of a batch of 1,000 with 2 invalid items, with precise errors in place", async () => {
    const tasks = Array.from({ length: 1_000 }, (_, i) => ({
      function_key: "demo.echo",
      payload: { i },
    }));
    tasks[10] = { function_key: "demo.echo", payload: {}, priority: 42 } as never;
    tasks[500] = { payload: {} } as never;
    const r = await dev.api("/v1/tasks/batch", { body: { tasks } });
    expect(r.status).toBe(202);
    const results = (r.json as { results: Array<{ id?: string; error?: { message: string } }> })
      .results;
    expect(results).toHaveLength(1_000);
    expect(results.filter((x) => x.id).length).toBe(998);
    expect(results[10]?.error?.message).toMatch(
      /priority must be an integer between 0 and 9 \(got 42\)/,
    );
    expect(results[500]?.error?.message).toMatch(/function_key is required/);
  });

  it("cancels a running task and requeues it", async () => {
    const { id } = (
      await dev.api("/v1/tasks", { body: { function_key: "demo.sleep", payload: { ms: 60_000 } } })
    ).json as { id: string };
    await waitFor(id, "STARTED");
    expect((await dev.api(`/v1/tasks/${id}/cancel`, { method: "POST" })).status).toBe(202);
    await waitFor(id, "CANCELED");
    const requeued = await dev.api(`/v1/tasks/${id}/requeue`, { method: "POST" });
    expect(requeued.status).toBe(202);
    const running = await waitFor(id, "STARTED");
    expect(running.run).toBe(1);
    await dev.api(`/v1/tasks/${id}/cancel`, { method: "POST" });
  });

  describe("auth matrix", () => {
    it.each([
      ["no key", null, 401],
      ["a wrong key", "gtq_wrong", 401],
      ["a revoked key", "revoked", 401],
    ])("refuses %s with 401", async (_, key, status) => {
      const r = await dev.api("/v1/tasks", {
        body: { function_key: "demo.echo" },
        key: key === "revoked" ? revokedKey : key,
      });
      expect(r.status).toBe(status);
      expect((r.json as Problem).detail).toMatch(/API key/);
    });

    it("refuses a key without the scope with 403, and lets it do what its scope allows", async () => {
      const r = await dev.api("/v1/tasks", { body: { function_key: "demo.echo" }, key: readerKey });
      expect(r.status).toBe(403);
      expect((r.json as Problem).detail).toMatch(/submit/);
      expect((await dev.api("/v1/tasks?limit=1", { key: readerKey })).status).toBe(200);
    });
  });

  describe("bad-input matrix (nothing enqueued)", () => {
    let since: string;
    beforeAll(() => {
      since = new Date().toISOString();
    });

    it.each([
      ["malformed JSON", { rawBody: '{"function_key": "demo.echo",' }, 400, /JSON/],
      ["a wrong type", { body: { function_key: "demo.echo", priority: "high" } }, 400, /priority/],
      [
        "an oversize body",
        { body: { function_key: "demo.echo", payload: { s: "x".repeat(1_100_000) } } },
        413,
        /limit|large/i,
      ],
      [
        "nesting over 64",
        { rawBody: `{"function_key":"demo.echo","payload":${"[".repeat(70)}${"]".repeat(70)}}` },
        400,
        /nest|deep/i,
      ],
      [
        "a wrong content type",
        { rawBody: "function_key=demo.echo", contentType: "application/x-www-form-urlencoded" },
        415,
        /application\/json/,
      ],
      ["an unknown function key", { body: { function_key: "demo.nope" } }, 422, /demo\.nope/],
    ])("answers %s with the right status and what to change", async (_, init, status, detail) => {
      const r = await dev.api("/v1/tasks", init);
      expect(r.status).toBe(status);
      expect(r.headers.get("content-type")).toMatch(/application\/problem\+json/);
      expect((r.json as Problem).detail).toMatch(detail);
    });

    it("answers an invalid id with 400", async () => {
      const r = await dev.api("/v1/tasks/not-an-id");
      expect(r.status).toBe(400);
      expect((r.json as Problem).detail).toMatch(/UUID/);
    });

    it("cannot pollute prototypes through __proto__ or constructor keys", async () => {
      const r = await dev.api("/v1/tasks", {
        rawBody:
          '{"function_key":"demo.echo","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}}}}',
      });
      expect([202, 400]).toContain(r.status);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      if (r.status === 202) {
        const record = await waitFor((r.json as { id: string }).id, "SUCCESS");
        expect(Object.keys((record.result ?? {}) as object)).not.toContain("__proto__");
      }
    });

    it("enqueued nothing for the rejected requests", async () => {
      const created = (await dev.api(`/v1/tasks?since=${encodeURIComponent(since)}&limit=500`))
        .json as { tasks: Array<{ functionKey: string }> };
      expect(created.tasks.length).toBeLessThanOrEqual(1); // only the accepted __proto__ probe, if accepted
    });
  });
});

describe("gotaskq server --tasks (the API alone, registry-aware)", () => {
  const box = new Sandbox({ GOTASKQ_API_KEYS: ADMIN_KEY });
  afterAll(() => box.cleanup());

  it("refuses unknown function keys with 422 and enqueues known ones for workers elsewhere", async () => {
    const server = await box.start(["server", "--tasks", path.resolve("examples/tasks.ts")], {
      readyText: "GoTaskQ server",
    });
    const restUrl = /REST (http:\/\/\S+),/.exec(server.output())?.[1];
    const post = (body: unknown) =>
      fetch(`${restUrl}/v1/tasks`, {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const unknown = await post({ function_key: "text.uper", payload: { text: "x" } });
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { detail: string }).detail).toMatch(/text\.upper/);
    const badPayload = await post({ function_key: "image.resize", payload: { url: "https://x" } });
    expect(badPayload.status).toBe(400);
    expect(((await badPayload.json()) as { detail: string }).detail).toMatch(/width/);
    expect((await post({ function_key: "text.upper", payload: { text: "x" } })).status).toBe(202);
    const queues = await box.json<Array<{ queue: string; ready: number }>>(["queues"]);
    expect(queues.find((q) => q.queue === "default")?.ready).toBe(1);
  });
});

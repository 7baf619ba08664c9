import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiStack, startApiStack } from "../api-stack.fixture.js";

// Idempotent submission and unique tasks through REST, on the real stack (SQLite broker, SQLite
// coordination store derived from the broker URL), with no worker: what is enqueued stays queued.

let stack: ApiStack;
beforeAll(async () => {
  stack = await startApiStack();
});
afterAll(() => stack.cleanup());

async function queued(): Promise<number> {
  const stats = await stack.stats();
  return stats.ready + stats.delayed;
}

describe("POST /v1/tasks with an idempotency key", () => {
  it("answers 202, then 200 with the same id and duplicate: true, enqueueing once", async () => {
    const before = await queued();
    const body = { function_key: "demo.echo", payload: { n: 1 } };
    const headers = { "idempotency-key": "rest-header-1" };
    const first = await stack.call("/v1/tasks", { body, headers });
    const second = await stack.call("/v1/tasks", { body, headers });
    expect(first.status).toBe(202);
    expect(first.json).toMatchObject({ duplicate: false });
    expect(second.status).toBe(200);
    expect(second.json).toMatchObject({ id: first.json.id, duplicate: true });
    expect(second.headers.get("location")).toBe(`/v1/tasks/${first.json.id}`);
    const inBody = await stack.call("/v1/tasks", {
      body: { ...body, idempotency_key: "rest-header-1" },
    });
    expect(inBody).toMatchObject({ status: 200, json: { id: first.json.id, duplicate: true } });
    expect(await queued()).toBe(before + 1);
  });

  it("refuses the same key for a different submission with 409 idempotency_key_reused", async () => {
    const headers = { "idempotency-key": "rest-reused" };
    await stack.call("/v1/tasks", { body: { function_key: "demo.echo" }, headers });
    const reused = await stack.call("/v1/tasks", {
      body: { function_key: "demo.echo", payload: { other: true } },
      headers,
    });
    expect(reused.status).toBe(409);
    expect(reused.json).toMatchObject({ code: "idempotency_key_reused" });
    expect(String(reused.json.detail)).toMatch(/use a new key/);
  });

  it("refuses a header that disagrees with the body, and a key over 256 characters", async () => {
    const disagree = await stack.call("/v1/tasks", {
      body: { function_key: "demo.echo", idempotency_key: "a" },
      headers: { "idempotency-key": "b" },
    });
    expect(disagree.status).toBe(400);
    expect(String(disagree.json.detail)).toMatch(/header and the body's idempotency_key differ/);
    const long = await stack.call("/v1/tasks", {
      body: { function_key: "demo.echo", idempotency_key: "k".repeat(257) },
    });
    expect(long.status).toBe(400);
    expect(String(long.json.detail)).toMatch(/idempotency_key must be a string of 1 to 256/);
  });

  it("enqueues exactly one of 10 concurrent requests, all answering its id", async () => {
    const before = await queued();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        stack.call("/v1/tasks", {
          body: { function_key: "demo.echo", payload: { c: 1 } },
          headers: { "idempotency-key": "rest-concurrent" },
        }),
      ),
    );
    expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
    expect(answers.map((a) => a.status).sort()).toEqual([
      200, 200, 200, 200, 200, 200, 200, 200, 200, 202,
    ]);
    expect(await queued()).toBe(before + 1);
  });

  it("answers batch items on their own, and counts duplicates in /metrics", async () => {
    const batch = await stack.call("/v1/tasks/batch", {
      body: {
        tasks: [
          { function_key: "demo.echo", idempotency_key: "batch-a" },
          { function_key: "demo.echo", idempotency_key: "batch-a" },
          { function_key: "demo.echo", idempotency_key: "batch-a", payload: { x: 1 } },
          { function_key: "demo.echo" },
        ],
      },
    });
    expect(batch.status).toBe(202);
    const results = batch.json.results as Array<Record<string, unknown>>;
    expect(results[0]).toMatchObject({ duplicate: false });
    expect(results[1]).toMatchObject({ id: results[0]?.id, duplicate: true });
    expect(results[2]).toMatchObject({ error: { code: "idempotency_key_reused", index: 2 } });
    expect(results[3]).toMatchObject({ duplicate: false });
    const header = await stack.call("/v1/tasks/batch", {
      body: { tasks: [{ function_key: "demo.echo" }] },
      headers: { "idempotency-key": "x" },
    });
    expect(header.status).toBe(400);
    const metrics = await stack.call("/metrics");
    expect(metrics.text).toMatch(/gotaskq_tasks_duplicate_total [1-9]\d*/);
  });
});

describe("POST /v1/tasks with unique", () => {
  it("answers 1,000 submissions of one key while the first is queued with 1 task and 999 duplicates", async () => {
    const before = await queued();
    const submit = (i: number) =>
      stack.call("/v1/tasks", {
        body: {
          function_key: "demo.echo",
          payload: { user_id: 42, i },
          unique: { key: "{{payload.user_id}}" },
        },
      });
    const first = await submit(0);
    expect(first.status).toBe(202);
    const rest: Array<Awaited<ReturnType<typeof submit>>> = [];
    for (let wave = 0; wave < 999; wave += 111) {
      rest.push(
        ...(await Promise.all(Array.from({ length: 111 }, (_, j) => submit(1 + wave + j)))),
      );
    }
    expect(rest.filter((r) => r.status === 200 && r.json.duplicate === true)).toHaveLength(999);
    expect(new Set(rest.map((r) => r.json.id))).toEqual(new Set([first.json.id]));
    expect(await queued()).toBe(before + 1);
    const metrics = await stack.call("/metrics");
    const count = Number(/gotaskq_tasks_duplicate_total (\d+)/.exec(metrics.text)?.[1]);
    expect(count).toBeGreaterThanOrEqual(999);
  });

  it("refuses an invalid template with 400 saying what to change", async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ key: "{{payload.user_id" }, /unclosed "\{\{"/],
      [{ key: "{{tenant}}" }, /must start with payload or metadata/],
      [{ key: "{{payload.missing}}" }, /add payload.missing to the payload/],
      [{ until: "later" }, /unique.until must be "started" or "finished"/],
    ];
    for (const [unique, message] of cases) {
      const answer = await stack.call("/v1/tasks", {
        body: { function_key: "demo.echo", payload: { user_id: 1 }, unique },
      });
      expect(answer.status, JSON.stringify(unique)).toBe(400);
      expect(String(answer.json.detail)).toMatch(message);
    }
  });
});

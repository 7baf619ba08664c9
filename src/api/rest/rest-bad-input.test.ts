import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiStack, startApiStack, until } from "../api-stack.fixture.js";

// Bad input never yields a 500: each case gets its 4xx, an application/problem+json body whose
// detail says what to change, and nothing enqueued (no worker runs, so the broker's counts show
// every accepted task).

async function enqueued(s: ApiStack): Promise<number> {
  const queues = await s.broker.queues();
  const stats = await Promise.all(queues.map((q) => s.broker.stats(q)));
  return stats.reduce((n, q) => n + q.ready + q.delayed + q.inFlight + q.deadLettered, 0);
}

type Init = Parameters<ApiStack["call"]>[1];

const CASES: Array<[string, string, Init, number, RegExp]> = [
  [
    "malformed JSON",
    "/v1/tasks",
    { raw: '{"function_key": "demo.echo",' },
    400,
    /not valid JSON .*send a JSON object/,
  ],
  [
    "a wrong type",
    "/v1/tasks",
    { body: { function_key: "demo.echo", priority: "high" } },
    400,
    /priority must be an integer between 0 and 9 \(got "high"\)/,
  ],
  [
    "a misspelt field",
    "/v1/tasks",
    { body: { function_key: "demo.echo", max_retry: 2 } },
    400,
    /unknown field "max_retry".*allowed fields: function_key/,
  ],
  [
    "a missing function key",
    "/v1/tasks",
    { body: { payload: {} } },
    400,
    /function_key is required/,
  ],
  [
    "a bad function key",
    "/v1/tasks",
    { body: { function_key: "no spaces" } },
    400,
    /function_key must match/,
  ],
  [
    "an oversize body",
    "/v1/tasks",
    { body: { function_key: "demo.echo", payload: { s: "x".repeat(1_100_000) } } },
    413,
    /larger than the limit of 1048576 bytes; send a smaller payload/,
  ],
  [
    "nesting 65 deep in the payload",
    "/v1/tasks",
    { raw: `{"function_key":"demo.echo","payload":${"[".repeat(65)}${"]".repeat(65)}}` },
    400,
    /payload nests deeper than 64 levels; flatten it/,
  ],
  [
    "nesting 10,000 deep",
    "/v1/tasks",
    { raw: `{"function_key":"demo.echo","payload":${"[".repeat(10_000)}${"]".repeat(10_000)}}` },
    400,
    /deeper than 67 levels .*flatten it/,
  ],
  [
    "a form body",
    "/v1/tasks",
    { raw: "function_key=demo.echo", type: "application/x-www-form-urlencoded" },
    415,
    /Content-Type "application\/x-www-form-urlencoded" is not supported; send the body as application\/json/,
  ],
  [
    "text/plain",
    "/v1/tasks",
    { raw: '{"function_key":"demo.echo"}', type: "text/plain" },
    415,
    /send the body as application\/json/,
  ],
  [
    "a gzip body",
    "/v1/tasks",
    { body: { function_key: "demo.echo" }, headers: { "content-encoding": "gzip" } },
    415,
    /Content-Encoding "gzip" is not supported; send the JSON body uncompressed/,
  ],
  [
    "an unknown function key",
    "/v1/tasks",
    { body: { function_key: "demo.nope" } },
    422,
    /unknown function_key "demo\.nope".*registered functions: demo\.echo/,
  ],
  [
    "a payload its schema refuses",
    "/v1/tasks",
    { body: { function_key: "demo.sleep", payload: { ms: -1 } } },
    400,
    /payload does not match the schema of "demo\.sleep"/,
  ],
  ["a null body", "/v1/tasks", { raw: "null" }, 400, /a task must be a JSON object such as \{/],
  ["an empty body", "/v1/tasks", { raw: "" }, 400, /a task must be a JSON object such as \{/],
  [
    "an integer given as text",
    "/v1/tasks",
    { body: { function_key: "demo.echo", max_retries: "3" } },
    400,
    /max_retries must be an integer between 0 and 100 \(got "3"\)/,
  ],
  [
    "a misspelt backoff field",
    "/v1/tasks",
    { body: { function_key: "demo.echo", backoff: { type: "fixed", delay: 5 } } },
    400,
    /unknown field "delay" in backoff; allowed fields: type, base_ms, max_ms, delay_ms/,
  ],
  [
    "a run_at without a time zone",
    "/v1/tasks",
    { body: { function_key: "demo.echo", run_at: "2026-12-01" } },
    400,
    /run_at must be an ISO 8601 instant such as 2026-12-01T09:00:00Z \(got "2026-12-01"\)/,
  ],
  [
    "an invalid id",
    "/v1/tasks/not-an-id",
    {},
    400,
    /path parameter id must be a lowercase UUID such as .* \(got "not-an-id"\)/,
  ],
  [
    "an uppercase id",
    "/v1/tasks/0193A1B2-C3D4-7E5F-8A9B-0C1D2E3F4A5B/cancel",
    { method: "POST" },
    400,
    /lowercase UUID/,
  ],
  [
    "an unknown list filter",
    "/v1/tasks?sort=asc",
    {},
    400,
    /unknown query parameter "sort"; allowed: status/,
  ],
  [
    "a bad status filter",
    "/v1/tasks?status=DONE",
    {},
    400,
    /status takes PENDING, STARTED, SUCCESS, FAILURE, CANCELED/,
  ],
  [
    "a limit out of range",
    "/v1/tasks?limit=0",
    {},
    400,
    /query parameter limit must be an integer between 1 and 500 \(got 0\)/,
  ],
  ["a bad queue name", "/v1/queues/bad%20queue/dlq", {}, 400, /path parameter queue must match/],
  [
    "an empty DLQ selector",
    "/v1/queues/default/dlq/requeue",
    { body: {} },
    400,
    /say which entries to requeue with exactly one of/,
  ],
  [
    "an empty batch",
    "/v1/tasks/batch",
    { body: { tasks: [] } },
    400,
    /a batch must hold 1 to 1000 tasks \(got 0\)/,
  ],
  [
    "a batch of 1,001",
    "/v1/tasks/batch",
    { body: { tasks: Array.from({ length: 1_001 }, () => ({ function_key: "demo.echo" })) } },
    400,
    /a batch must hold 1 to 1000 tasks \(got 1001\); split larger batches/,
  ],
  [
    "a batch that is an array",
    "/v1/tasks/batch",
    { body: [{ function_key: "demo.echo" }] },
    400,
    /a batch must be an object \{"tasks":\[…\]\} \(got an array\)/,
  ],
  [
    "a batch without tasks",
    "/v1/tasks/batch",
    { body: { task: [] } },
    400,
    /unknown batch field "task"; allowed: tasks/,
  ],
  [
    "a batch whose tasks is not an array",
    "/v1/tasks/batch",
    { body: { tasks: { function_key: "demo.echo" } } },
    400,
    /tasks must be an array of 1 to 1000 task objects/,
  ],
  [
    "an unknown route",
    "/v1/taskz",
    {},
    404,
    /no route GET \/v1\/taskz; the API is described at GET \/openapi\.json/,
  ],
];

describe("REST bad-input matrix", () => {
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack();
  });
  afterAll(() => s.cleanup());

  it.each(CASES)(
    "answers %s with the right status and what to change",
    async (_, path, init, status, detail) => {
      const r = await s.call(path, init);
      expect(r.status).toBe(status);
      expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(r.json).toMatchObject({
        status,
        type: expect.stringMatching(/^urn:gotaskq:problem:/),
        title: expect.any(String),
      });
      expect(String(r.json.detail)).toMatch(detail);
      expect(await enqueued(s)).toBe(0);
    },
  );

  it("cannot pollute prototypes through __proto__ or constructor keys", async () => {
    const r = await s.call("/v1/tasks", {
      raw: '{"function_key":"demo.echo","payload":{"__proto__":{"polluted":true},"constructor":{"prototype":{"x":1}},"keep":1},"metadata":{"__proto__":"x"}}',
    });
    expect(r.status).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
    const record = await until(() => s.tracking.get(String(r.json.id)), "the tracked record");
    expect(record.payload).toEqual({ keep: 1 });
    expect(record.metadata).toEqual({});
    expect(await enqueued(s)).toBe(1);
  });
});

describe("REST payload limit below the body limit", () => {
  // A broker with a 1 MiB message limit leaves the producer 1 MiB − the envelope reserve for the
  // payload, under the 1 MiB body limit: a body between the two is read, then refused as too
  // large (413, like the body limit), not as malformed (400).
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack({ maxPayloadBytes: 1_048_576 - 4_096 });
  });
  afterAll(() => s.cleanup());

  it("answers 413 with the limit for a payload over it, and enqueues nothing", async () => {
    const r = await s.call("/v1/tasks", {
      body: { function_key: "demo.echo", payload: { s: "x".repeat(1_046_000) } },
    });
    expect(r.status).toBe(413);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.json).toMatchObject({ status: 413, type: "urn:gotaskq:problem:content_too_large" });
    expect(String(r.json.detail)).toBe(
      "payload is 1046008 bytes; the limit is 1044480 bytes (JSON-encoded); send a smaller payload",
    );
    expect(await enqueued(s)).toBe(0);
  });
});

import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_KEY, type ApiStack, startApiStack } from "../api-stack.fixture.js";
import { revokeApiKey } from "../auth/keys-file.js";

// Who may call what: 401 without or with a bad or revoked key, 403 without the scope, 429 over
// the key's rate budget; health and the OpenAPI document are open. Nothing is enqueued on a
// refusal (no worker runs here, so the broker's counts show every accepted task).

const TASK = { function_key: "demo.echo", payload: {} };

async function enqueued(s: ApiStack): Promise<number> {
  const stats = await s.stats();
  return stats.ready + stats.delayed + stats.inFlight;
}

describe("REST auth matrix", () => {
  let s: ApiStack;
  let submitter: string;
  let reader: string;
  beforeAll(async () => {
    s = await startApiStack();
    submitter = await s.key("submitter", ["submit"]);
    reader = await s.key("reader", ["read"]);
  });
  afterAll(() => s.cleanup());

  it.each([
    ["no key", null, /missing API key: send Authorization: Bearer <key> or X-API-Key/],
    ["a wrong key", "gtq_wrong", /invalid API key/],
  ])("refuses %s with 401 and enqueues nothing", async (_, key, detail) => {
    const r = await s.call("/v1/tasks", { body: TASK, key });
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(r.json).toMatchObject({
      status: 401,
      title: "Unauthenticated",
      code: "unauthenticated",
    });
    expect(String(r.json.detail)).toMatch(detail);
    expect(await enqueued(s)).toBe(0);
  });

  it("refuses a key revoked in the keys file while the server runs", async () => {
    const key = await s.key("short-lived", ["submit", "read"]);
    expect((await s.call("/v1/tasks?limit=1", { key })).status).toBe(200);
    await revokeApiKey(s.keysFile, "short-lived");
    const r = await s.call("/v1/tasks", { body: TASK, key });
    expect(r.status).toBe(401);
    expect(r.json.detail).toMatch(/invalid API key.*revoked/);
    expect(await enqueued(s)).toBe(0);
  });

  it("refuses a key without the scope with 403 naming the scope, and enqueues nothing", async () => {
    const r = await s.call("/v1/tasks", { body: TASK, key: reader });
    expect(r.status).toBe(403);
    expect(r.json.detail).toMatch(/lacks the "submit" scope/);
    const cancel = await s.call(
      `/v1/tasks/${"0".repeat(8)}-0000-7000-8000-${"0".repeat(12)}/cancel`,
      { method: "POST", key: submitter },
    );
    expect(cancel.status).toBe(403);
    expect(cancel.json.detail).toMatch(/"admin" scope/);
    expect((await s.call("/v1/queues/default/dlq", { key: reader })).status).toBe(403);
    expect(await enqueued(s)).toBe(0);
  });

  it("lets each key do what its scopes allow, by Bearer or X-API-Key", async () => {
    expect((await s.call("/v1/tasks", { body: TASK, key: submitter })).status).toBe(202);
    expect(
      (await s.call("/v1/queues", { key: null, headers: { "x-api-key": reader } })).status,
    ).toBe(200);
    expect((await s.call("/v1/tasks", { body: TASK, key: submitter })).status).toBe(202);
    expect(await enqueued(s)).toBe(2);
  });

  it("keeps health, readiness and the OpenAPI document open", async () => {
    for (const path of ["/healthz", "/readyz", "/openapi.json"]) {
      expect((await s.call(path, { key: null })).status).toBe(200);
    }
  });
});

describe("REST rate limit", () => {
  let s: ApiStack;
  beforeAll(async () => {
    s = await startApiStack({ rateLimit: { ratePerSecond: 0.5, burst: 2 } });
  });
  afterAll(() => s.cleanup());

  it("answers 429 with Retry-After once a key spent its burst, per key, enqueueing nothing", async () => {
    expect((await s.call("/v1/tasks", { body: TASK })).status).toBe(202);
    expect((await s.call("/v1/tasks", { body: TASK })).status).toBe(202);
    const limited = await s.call("/v1/tasks", { body: TASK });
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(limited.json).toMatchObject({ code: "rate_limited", title: "Too many requests" });
    expect(limited.json.detail).toMatch(
      /rate limit of 0\.5 requests\/s \(burst 2\); retry after 2 s/,
    );
    expect(await enqueued(s)).toBe(2);
    // Another key has its own budget; a spoofed forwarding header changes nothing.
    const other = await s.key("other", ["submit"]);
    expect((await s.call("/v1/tasks", { body: TASK, key: other })).status).toBe(202);
    const spoofed = await s.call("/v1/tasks", {
      body: TASK,
      headers: { "x-forwarded-for": "10.9.8.7" },
    });
    expect(spoofed.status).toBe(429);
  });
});

describe("REST logging", () => {
  it("never writes API keys to the log, and answers a server fault with a 500 that hides internals", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "trace" }, { write: (line: string) => lines.push(line) });
    const s = await startApiStack({ logger });
    try {
      const key = await s.key("logged", ["read"]);
      // A bug inside the service: the route must answer 500 and the log must say why.
      Object.assign(s.service, {
        queues: async () => {
          throw new TypeError("secret internals");
        },
      });
      const r = await s.call("/v1/queues", { key });
      expect(r.status).toBe(500);
      expect(r.json.detail).not.toMatch(/secret internals/);
      expect(r.json.detail).toMatch(/retry later, and report it/);
      await s.call("/v1/queues", { key: null, headers: { "x-api-key": key } });
      await s.call("/v1/tasks", { key: "gtq_not_a_real_key_but_secret", body: TASK });
      const log = lines.join("");
      expect(log).toMatch(/request failed/);
      expect(log).toMatch(/secret internals/);
      expect(log).not.toContain(key);
      expect(log).not.toContain(key.slice(4));
      expect(log).not.toContain("gtq_not_a_real_key_but_secret");
      expect(log).not.toContain(ADMIN_KEY);
    } finally {
      await s.cleanup();
    }
  });
});

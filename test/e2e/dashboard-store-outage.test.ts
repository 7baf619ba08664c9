import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../support/cli.js";
import { type PrivateRedis, startPrivateRedis } from "../support/redis-server.js";

// A `gotaskq server` whose coordination store (a private redis-server, so the shared one is never
// touched) goes away and comes back: requests with a session cookie and logins answer 503, never
// 401 (which would sign the operator out over a transient fault); API keys are unaffected; once
// the store is back the same cookie works again. Each refused call waits out the store's
// operation timeout (5 s), hence the long test timeout.

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0;
const PASSWORD = "outage session phrase";
const KEY = "gtq_test_outage_admin_0123456789abcdef01";

async function http(
  url: string,
  init: { body?: unknown; cookie?: string; key?: string } = {},
): Promise<{ status: number; detail: string | undefined; cookie: string }> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, {
    method: init.body !== undefined ? "POST" : "GET",
    headers,
    redirect: "manual",
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  let detail: string | undefined;
  try {
    detail = (JSON.parse(text) as { detail?: string }).detail;
  } catch {
    detail = undefined;
  }
  return {
    status: r.status,
    detail,
    cookie: (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
  };
}

describe.skipIf(!hasRedisServer)("dashboard sessions when the coordination store is away", () => {
  let redis: PrivateRedis;
  let box: Sandbox;
  let base: string;

  const login = () =>
    http(`${base}/auth/login`, { body: { username: "alice", password: PASSWORD } });

  beforeAll(async () => {
    redis = await startPrivateRedis();
    box = new Sandbox({
      GOTASKQ_API_KEYS: KEY,
      GOTASKQ_COORDINATION_URL: `${redis.url}/?prefix=outage`,
    });
    const added = await box.run(
      ["operators", "add", "alice", "--role", "operator", "--password-stdin"],
      { stdin: PASSWORD },
    );
    expect(added.code, added.stderr).toBe(0);
    const server = await box.start(["server"], { readyText: "GoTaskQ server" });
    const found = /dashboard (http:\/\/\S+)\//.exec(server.output())?.[1];
    if (!found) throw new Error(`no dashboard URL in:\n${server.output()}`);
    base = found;
  });

  afterAll(async () => {
    await box?.cleanup();
    await redis?.cleanup();
  });

  it("answers 503 to cookie requests and logins while the store is down, and keeps the session", async () => {
    const signed = await login();
    expect(signed.status).toBe(200);
    expect((await http(`${base}/v1/tasks`, { cookie: signed.cookie })).status).toBe(200);

    await redis.stop();
    for (const path of ["/v1/tasks", "/auth/session"]) {
      const r = await http(`${base}${path}`, { cookie: signed.cookie });
      expect(r.status, path).toBe(503);
      expect(r.detail, path).toMatch(/coordination store .*cannot be reached/);
    }
    const refused = await login();
    expect(refused.status).toBe(503);
    expect(refused.cookie).toBe("");
    // API keys and cookie-less requests never touch the store.
    expect((await http(`${base}/v1/queues`, { key: KEY })).status).toBe(200);
    expect((await http(`${base}/v1/tasks`)).status).toBe(401);

    await redis.start();
    // The same cookie works again once the client has reconnected.
    let status = 0;
    for (let i = 0; i < 100 && status !== 200; i += 1) {
      status = (await http(`${base}/auth/session`, { cookie: signed.cookie })).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
  }, 90_000);
});

import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sandbox } from "../support/cli.js";
import { deleteKeys, testPrefix } from "../support/redis-keys.js";
import { SERVICES, serviceAvailable } from "../support/services.js";

// Two `gotaskq server` replicas on one coordination store, as a load balancer without sticky
// sessions would use them: a session opened on one works on the other, a logout on one ends it on
// both, and failed logins count across both. On the shared Redis (a unique prefix per run), and
// on one SQLite coordination file (replicas on one machine).

const PASSWORD = "replicated session phrase";

interface Reply {
  status: number;
  json: unknown;
  cookie: string;
}

async function http(
  base: string,
  path: string,
  init: { method?: string; body?: unknown; cookie?: string; csrf?: string } = {},
): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.csrf) headers["x-csrf-token"] = init.csrf;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
    headers,
    redirect: "manual",
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return {
    status: r.status,
    json,
    cookie: (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "",
  };
}

const redisPrefix = testPrefix("dashboard-replicas");
const redisUrl = `${SERVICES.redis.url.replace(/\/+$/, "")}/?prefix=${redisPrefix}`;
const redisUp = await serviceAvailable("redis");

/** Keys the replicas wrote under this run's Redis prefix. */
async function redisKeys(): Promise<string[]> {
  const client = new Redis(SERVICES.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const found: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await client.scan(cursor, "MATCH", `{${redisPrefix}}:*`, "COUNT", 1_000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== "0");
    return found;
  } finally {
    client.disconnect();
  }
}

describe.each([
  { store: "Redis", url: () => redisUrl, skip: !redisUp },
  {
    store: "one SQLite file",
    url: (dir: string) => `sqlite://${path.join(dir, "coord.db")}`,
    skip: false,
  },
])("two gotaskq server replicas on $store", ({ url, skip }) => {
  const box = new Sandbox();
  let a: string;
  let b: string;

  const login = (base: string, username: string, password: string) =>
    http(base, "/auth/login", { body: { username, password } });

  beforeAll(async () => {
    if (skip) return;
    for (const name of ["alice", "bob"]) {
      const r = await box.run(
        ["operators", "add", name, "--role", "operator", "--password-stdin"],
        {
          stdin: PASSWORD,
        },
      );
      expect(r.code, r.stderr).toBe(0);
    }
    const env = { GOTASKQ_COORDINATION_URL: url(box.dir) };
    const started = await Promise.all([
      box.start(["server"], { env, readyText: "GoTaskQ server" }),
      box.start(["server"], { env, readyText: "GoTaskQ server" }),
    ]);
    [a, b] = started.map((server) => {
      const found = /dashboard (http:\/\/\S+)\//.exec(server.output())?.[1];
      if (!found) throw new Error(`no dashboard URL in:\n${server.output()}`);
      return found;
    }) as [string, string];
    expect(a).not.toBe(b);
  });

  afterAll(async () => {
    await box.cleanup();
    if (!skip && url(box.dir) === redisUrl)
      await deleteKeys(SERVICES.redis.url, `{${redisPrefix}}:*`);
  });

  it.skipIf(skip)(
    "uses a session opened on one replica on the other, CSRF token included",
    async () => {
      const signed = await login(a, "alice", PASSWORD);
      expect(signed.status).toBe(200);
      const csrf = (signed.json as { csrf_token: string }).csrf_token;
      const session = await http(b, "/auth/session", { cookie: signed.cookie });
      expect(session).toMatchObject({
        status: 200,
        json: { operator: { name: "alice", role: "operator" }, csrf_token: csrf },
      });
      expect((await http(b, "/v1/queues", { cookie: signed.cookie })).status).toBe(200);
      const task = { function_key: "demo.echo", payload: { replica: "b" } };
      const forged = await http(b, "/v1/tasks", { body: task, cookie: signed.cookie });
      expect(forged.status).toBe(403);
      const accepted = await http(b, "/v1/tasks", { body: task, cookie: signed.cookie, csrf });
      expect(accepted.status, JSON.stringify(accepted.json)).toBe(202);
      // The page routes take it too (200 with the built SPA, 503 when not built; never a redirect).
      expect((await http(b, "/tasks", { cookie: signed.cookie })).status).not.toBe(302);
      // The replicas met in the store named, not in a default one.
      if (url(box.dir) === redisUrl) expect((await redisKeys()).length).toBeGreaterThan(0);
    },
  );

  it.skipIf(skip)(
    "refuses the cookie on the other replica at once after a logout on one",
    async () => {
      const signed = await login(b, "alice", PASSWORD);
      const csrf = (signed.json as { csrf_token: string }).csrf_token;
      expect((await http(a, "/v1/tasks", { cookie: signed.cookie })).status).toBe(200);
      const out = await http(a, "/auth/logout", { method: "POST", cookie: signed.cookie, csrf });
      expect(out.status).toBe(204);
      const refused = await http(b, "/v1/tasks", { cookie: signed.cookie });
      expect(refused.status).toBe(401);
      expect((refused.json as { detail: string }).detail).toMatch(/log in again/);
      expect((await http(b, "/auth/session", { cookie: signed.cookie })).status).toBe(401);
      expect((await http(b, "/tasks", { cookie: signed.cookie })).status).toBe(302);
    },
  );

  it.skipIf(skip)("counts failed logins across replicas", async () => {
    // bob's budget is 5 failures: 3 on one replica and 2 on the other spend it.
    for (let i = 0; i < 5; i += 1) {
      const r = await login(i < 3 ? a : b, "bob", `wrong guess ${i}`);
      expect(r.status, `attempt ${i}`).toBe(401);
    }
    for (const base of [a, b]) {
      const limited = await login(base, "bob", PASSWORD);
      expect(limited.status).toBe(429);
      expect((limited.json as { detail: string }).detail).toMatch(/too many failed logins/);
    }
    // alice is not affected.
    expect((await login(b, "alice", PASSWORD)).status).toBe(200);
  });
});

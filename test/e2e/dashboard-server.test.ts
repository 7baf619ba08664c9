import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/cli.js";
import { ADMIN_KEY, type DevServer, startDevServer } from "../support/dev-server.js";

// The dashboard's server side on a real `gotaskq dev` process, over HTTP: login, sessions,
// cookies, CSRF, roles, the page routes, security headers and the live event stream. (The SPA
// itself is driven in Chromium by test/browser.)

interface Reply {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

interface Signed {
  cookie: string;
  csrf: string;
}

const PAGES = [
  "/",
  "/tasks",
  "/tasks/0193a000-0000-7000-8000-000000000001",
  "/submit",
  "/dlq",
  "/workers",
];
const VIEWER_PASSWORD = "viewer passphrase 42";

describe("dashboard server side of gotaskq dev", () => {
  let dev: DevServer;

  async function http(
    path: string,
    init: { method?: string; body?: unknown; cookie?: string; csrf?: string; key?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (init.cookie) headers.cookie = init.cookie;
    if (init.csrf) headers["x-csrf-token"] = init.csrf;
    if (init.key) headers.authorization = `Bearer ${init.key}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${dev.restUrl}${path}`, {
      method: init.method ?? (init.body !== undefined ? "POST" : "GET"),
      headers,
      redirect: "manual",
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await response.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  }

  const login = (username: string, password: string) =>
    http("/auth/login", { body: { username, password } });

  /** Every session id and CSRF token handed out, to check none reaches the logs. */
  const secrets: string[] = [];

  async function signIn(username: string, password: string): Promise<Signed> {
    const r = await login(username, password);
    expect(r.status, r.text).toBe(200);
    const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
    secrets.push(cookie.split("=")[1] as string, (r.json as { csrf_token: string }).csrf_token);
    return { cookie, csrf: (r.json as { csrf_token: string }).csrf_token };
  }

  async function addOperator(name: string, role: string, password: string): Promise<void> {
    const r = await dev.box.run(["operators", "add", name, "--role", role, "--password-stdin"], {
      stdin: `${password}\n`,
    });
    expect(r.code, r.stderr).toBe(0);
  }

  beforeAll(async () => {
    dev = await startDevServer();
    await addOperator("viewer1", "viewer", VIEWER_PASSWORD);
  });
  afterAll(() => dev.box.cleanup());

  it("prints the dashboard URL and a generated password for operator admin", () => {
    expect(dev.dashboardUrl).toBe(`${dev.restUrl}/`);
    expect(dev.dashboardPassword).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  });

  it("logs in with the dev password: operator, CSRF token and a strict HttpOnly cookie", async () => {
    const r = await login("admin", dev.dashboardPassword);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      operator: { name: "admin", role: "operator" },
      csrf_token: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    const cookie = r.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/^gotaskq_session=[A-Za-z0-9_-]{43};/);
    expect(cookie).toMatch(/; HttpOnly/);
    expect(cookie).toMatch(/; SameSite=Strict/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Secure/); // plain HTTP here; set behind TLS
    expect(cookie).not.toContain((r.json as { csrf_token: string }).csrf_token);
  });

  it("answers 401 with the same message for a wrong password and an unknown user", async () => {
    const wrong = await login("admin", `${dev.dashboardPassword}x`);
    const unknown = await login(`nobody-${randomUUID()}`, dev.dashboardPassword);
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(wrong.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(wrong.headers.get("set-cookie")).toBeNull();
    expect((wrong.json as { detail: string }).detail).toBe("wrong username or password");
    expect((unknown.json as { detail: string }).detail).toBe(
      (wrong.json as { detail: string }).detail,
    );
    // Bad input is a 400 that says what is wrong, not a crash.
    const empty = await http("/auth/login", { body: { username: "admin" } });
    expect(empty.status).toBe(400);
    expect((empty.json as { detail: string }).detail).toMatch(/password/);
  });

  it("tells the signed-in operator and CSRF token at /auth/session, 401 without a session", async () => {
    const s = await signIn("admin", dev.dashboardPassword);
    const r = await http("/auth/session", { cookie: s.cookie });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ operator: { name: "admin", role: "operator" }, csrf_token: s.csrf });
    expect((await http("/auth/session")).status).toBe(401);
    expect((await http("/auth/session", { cookie: "gotaskq_session=forged" })).status).toBe(401);
  });

  it("logs out with the CSRF token only, and the session is gone afterwards", async () => {
    const s = await signIn("admin", dev.dashboardPassword);
    expect((await http("/auth/logout", { method: "POST", cookie: s.cookie })).status).toBe(403);
    const out = await http("/auth/logout", { method: "POST", cookie: s.cookie, csrf: s.csrf });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/^gotaskq_session=;.*Expires=Thu, 01 Jan 1970/);
    expect((await http("/auth/session", { cookie: s.cookie })).status).toBe(401);
    const api = await http("/v1/tasks", { cookie: s.cookie });
    expect(api.status).toBe(401);
    expect((api.json as { detail: string }).detail).toMatch(/log in again/);
    expect((await http("/tasks", { cookie: s.cookie })).status).toBe(302);
  });

  it("refuses a cookie request without the CSRF token (403, nothing enqueued) and accepts it with", async () => {
    const s = await signIn("admin", dev.dashboardPassword);
    const task = { function_key: "demo.flaky", payload: { failures: 0 } };
    const refused = await http("/v1/tasks", { body: task, cookie: s.cookie });
    expect(refused.status).toBe(403);
    expect((refused.json as { detail: string }).detail).toMatch(/X-CSRF-Token/);
    const forged = await http("/v1/tasks", { body: task, cookie: s.cookie, csrf: "x".repeat(43) });
    expect(forged.status).toBe(403);
    const batch = await http("/v1/tasks/batch", { body: { tasks: [task] }, cookie: s.cookie });
    expect(batch.status).toBe(403);
    const accepted = await http("/v1/tasks", { body: task, cookie: s.cookie, csrf: s.csrf });
    expect(accepted.status).toBe(202);
    const { id } = accepted.json as { id: string };
    await eventually(
      async () => {
        const r = await http(`/v1/tasks/${id}`, { cookie: s.cookie });
        return (r.json as { status?: string }).status === "SUCCESS" ? true : undefined;
      },
      15_000,
      "the accepted task to succeed",
    );
    // Only the accepted one ever reached the broker (this is the file's only demo.flaky).
    const listed = await http("/v1/tasks?function_key=demo.flaky", { key: ADMIN_KEY });
    expect((listed.json as { tasks: { id: string }[] }).tasks.map((t) => t.id)).toEqual([id]);
    const queues = await http("/v1/queues", { cookie: s.cookie });
    expect(queues.status).toBe(200);
  });

  it("lets a viewer read everything but not submit, cancel or requeue", async () => {
    const s = await signIn("viewer1", VIEWER_PASSWORD);
    expect((await http("/auth/session", { cookie: s.cookie })).json).toMatchObject({
      operator: { name: "viewer1", role: "viewer" },
    });
    for (const path of [
      "/v1/tasks",
      "/v1/queues",
      "/v1/workers",
      "/v1/functions",
      "/v1/stats/throughput",
    ]) {
      expect((await http(path, { cookie: s.cookie })).status, path).toBe(200);
    }
    expect((await http("/tasks", { cookie: s.cookie })).status).not.toBe(302);
    const submitted = await http("/v1/tasks", {
      key: ADMIN_KEY,
      body: { function_key: "demo.echo" },
    });
    const { id } = submitted.json as { id: string };
    const attempts: [string, unknown][] = [
      ["/v1/tasks", { function_key: "demo.echo" }],
      ["/v1/tasks/batch", { tasks: [{ function_key: "demo.echo" }] }],
      [`/v1/tasks/${id}/cancel`, {}],
      [`/v1/tasks/${id}/requeue`, {}],
      ["/v1/queues/default/dlq/requeue", { all: true }],
    ];
    for (const [path, body] of attempts) {
      const r = await http(path, { body, cookie: s.cookie, csrf: s.csrf });
      expect(r.status, path).toBe(403);
      expect((r.json as { detail: string }).detail, path).toMatch(/viewer role/);
    }
    expect((await http("/v1/queues/default/dlq", { cookie: s.cookie })).status).toBe(403);
  });

  it("refuses every /v1 route without credentials (401) and redirects every page to /login", async () => {
    const doc = (await http("/openapi.json")).json as {
      paths: Record<string, Record<string, { description?: string }>>;
    };
    let checked = 0;
    for (const [template, operations] of Object.entries(doc.paths)) {
      const path = template
        .replace("{id}", "0193a000-0000-7000-8000-000000000001")
        .replace("{queue}", "default");
      for (const [method, op] of Object.entries(operations)) {
        if (!path.startsWith("/v1/")) continue;
        const r = await http(path, {
          method: method.toUpperCase(),
          ...(method === "post" ? { body: {} } : {}),
        });
        expect(r.status, `${method} ${path}`).toBe(401);
        expect(op.description, path).toMatch(/scope/);
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(14);
    for (const page of PAGES) {
      const r = await http(page);
      expect(r.status, page).toBe(302);
      expect(r.headers.get("location"), page).toBe(`/login?next=${encodeURIComponent(page)}`);
    }
    expect((await http("/tasks?status=FAILURE")).headers.get("location")).toBe(
      `/login?next=${encodeURIComponent("/tasks?status=FAILURE")}`,
    );
    // /login is the one page served without a session (the SPA, or 503 when not built).
    expect([200, 503]).toContain((await http("/login")).status);
  });

  it("sends the security headers on pages, redirects, API answers and errors", async () => {
    const s = await signIn("admin", dev.dashboardPassword);
    const responses = [
      await http("/login"),
      await http("/tasks"),
      await http("/tasks", { cookie: s.cookie }),
      await http("/v1/tasks", { cookie: s.cookie }),
      await http("/v1/tasks"),
      await http("/assets/no-such-file.js"),
      await login("admin", "wrong password!"),
    ];
    for (const r of responses) {
      expect(r.headers.get("content-security-policy")).toBe(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
      );
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("referrer-policy")).toBe("no-referrer");
      expect(r.headers.get("x-frame-options")).toBe("DENY");
    }
    const page = await http("/tasks", { cookie: s.cookie });
    if (page.status === 200) {
      expect(page.headers.get("content-type")).toMatch(/^text\/html/);
      expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
      expect(page.text).not.toMatch(/<style/);
    } else {
      expect(page.status).toBe(503);
      expect(page.text).toMatch(/npm run build/);
    }
  });

  it("streams a task submitted by another client, over an API key, through to SUCCESS", async () => {
    const s = await signIn("viewer1", VIEWER_PASSWORD);
    const abort = new AbortController();
    const response = await fetch(`${dev.restUrl}/v1/events`, {
      headers: { cookie: s.cookie, accept: "text/event-stream" },
      signal: abort.signal,
    });
    try {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
      expect(response.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const next = async (): Promise<string> => {
        for (;;) {
          const end = buffer.indexOf("\n\n");
          if (end >= 0) {
            const message = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            return message;
          }
          const { value, done } = await reader.read();
          if (done) throw new Error("the event stream ended");
          buffer += decoder.decode(value, { stream: true });
        }
      };
      expect(await next()).toContain(": connected");
      const submitted = await http("/v1/tasks", {
        key: ADMIN_KEY,
        body: { function_key: "demo.sleep", payload: { ms: 300 } },
      });
      const { id } = submitted.json as { id: string };
      const seen: string[] = [];
      const deadline = setTimeout(() => abort.abort(), 20_000);
      try {
        while (!seen.includes("SUCCESS")) {
          const message = await next();
          if (!message.startsWith("event: task\ndata: ")) continue;
          const task = JSON.parse(message.slice("event: task\ndata: ".length)) as {
            id: string;
            status: string;
          };
          if (task.id === id) seen.push(task.status);
        }
      } finally {
        clearTimeout(deadline);
      }
      // Each status at most once and in order (a short PENDING may be folded into STARTED).
      expect(seen[seen.length - 1]).toBe("SUCCESS");
      expect(new Set(seen).size).toBe(seen.length);
      const order = ["PENDING", "STARTED", "SUCCESS"];
      expect([...seen].sort((a, b) => order.indexOf(a) - order.indexOf(b))).toEqual(seen);
      // The event is exactly what GET /v1/tasks lists for it.
      const listed = await http(`/v1/tasks/${id}`, { key: ADMIN_KEY });
      expect((listed.json as { status: string }).status).toBe("SUCCESS");
    } finally {
      abort.abort();
    }
    // With an API key too.
    const keyed = new AbortController();
    const viaKey = await fetch(`${dev.restUrl}/v1/events?status=FAILURE`, {
      headers: { authorization: `Bearer ${ADMIN_KEY}` },
      signal: keyed.signal,
    });
    expect(viaKey.status).toBe(200);
    keyed.abort();
    expect((await http("/v1/events?status=BOGUS", { key: ADMIN_KEY })).status).toBe(400);
  });

  it("counts finished tasks per queue per minute over the last hour", async () => {
    const r = await http("/v1/stats/throughput?window=1h", { key: ADMIN_KEY });
    expect(r.status).toBe(200);
    const body = r.json as {
      bucket_seconds: number;
      queues: { queue: string; buckets: { start: string; succeeded: number; failed: number }[] }[];
    };
    expect(body.bucket_seconds).toBe(60);
    const queue = body.queues.find((q) => q.queue === "default");
    expect(queue?.buckets).toHaveLength(60);
    expect(queue?.buckets.reduce((n, b) => n + b.succeeded, 0)).toBeGreaterThanOrEqual(2);
    const bad = await http("/v1/stats/throughput?window=2d", { key: ADMIN_KEY });
    expect(bad.status).toBe(400);
    expect((bad.json as { detail: string }).detail).toMatch(/window/);
  });

  it("describes functions with their payload schema and submission defaults", async () => {
    const r = await http("/v1/functions", { key: ADMIN_KEY });
    const functions = (r.json as { functions: Record<string, unknown>[] }).functions;
    const flaky = functions.find((f) => f.key === "demo.flaky");
    expect(flaky).toMatchObject({
      queue: "default",
      priority: 5,
      timeout_ms: expect.any(Number),
      max_retries: expect.any(Number),
      payload_schema: { type: "object" },
    });
  });

  it("lets an operator added while the server runs log in, and ends its sessions when removed", async () => {
    const password = "a fresh operator phrase";
    await addOperator("late1", "operator", password);
    const s = await eventually(
      async () => ((await login("late1", password)).status === 200 ? true : undefined),
      5_000,
      "the new operator to be able to log in",
    ).then(() => signIn("late1", password));
    expect((await http("/v1/tasks", { cookie: s.cookie })).status).toBe(200);
    expect((await dev.box.run(["operators", "remove", "late1"])).code).toBe(0);
    await eventually(
      async () =>
        (await http("/v1/tasks", { cookie: s.cookie })).status === 401 ? true : undefined,
      5_000,
      "the removed operator's session to end",
    );
  });

  it("rate-limits failed logins per username: 429 with Retry-After, even for the right password", async () => {
    const password = "locked account phrase";
    await addOperator("locked1", "operator", password);
    for (let i = 0; i < 5; i += 1) {
      expect((await login("locked1", `wrong guess ${i}`)).status).toBe(401);
    }
    const limited = await login("locked1", password);
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((limited.json as { detail: string }).detail).toMatch(/too many failed logins/);
    // Another operator is not affected.
    expect((await login("viewer1", VIEWER_PASSWORD)).status).toBe(200);
  });

  it("never writes passwords, session ids or CSRF tokens to its logs", () => {
    expect(secrets.length).toBeGreaterThan(10);
    const output = dev.output();
    for (const secret of [...secrets, VIEWER_PASSWORD]) expect(output).not.toContain(secret);
    // The dev password appears once: in the Dashboard line printed at start.
    expect(output.split(dev.dashboardPassword)).toHaveLength(2);
  });

  // Last: it uses up this address's login budget for the rest of the server's life.
  it("rate-limits failed logins per client address across usernames", async () => {
    let limited: Reply | undefined;
    for (let i = 0; i < 25 && !limited; i += 1) {
      const r = await login(`guess-${i}-${randomUUID()}`, "some wrong password");
      if (r.status === 429) limited = r;
      else expect(r.status).toBe(401);
    }
    expect(limited?.status).toBe(429);
    expect(Number(limited?.headers.get("retry-after"))).toBeGreaterThan(0);
    // API keys are not affected by the login limit.
    expect((await http("/v1/tasks", { key: ADMIN_KEY })).status).toBe(200);
  });
});

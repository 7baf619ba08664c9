import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBroker } from "../../broker/memory/memory-broker.js";
import type { CoordinationStore } from "../../coordination/coordination-store.js";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
} from "../../coordination/memory/memory-coordination-store.js";
import { silentLogger } from "../../logging/logger.js";
import { Producer } from "../../producer/producer.js";
import { createNoneTrackingStore } from "../../tracking/none-store.js";
import { ApiKeyVerifier } from "../auth/api-key-verifier.js";
import { OperatorDirectory } from "../operators/operator-directory.js";
import { TaskService } from "../task-service.js";
import {
  createDashboardAuth,
  type DashboardAuth,
  type SignedIn,
  sessionWatch,
} from "./dashboard-auth.js";
import { type RestServer, startRestServer } from "./server.js";

// Dashboard sessions across API replicas: two REST servers, each with its own client of one
// memory coordination server (as two processes on one Redis), and what a request with a session
// cookie gets when a replica cannot reach the store.

const PASSWORD = "replica test passphrase";
const KEY = "gtq_test_dashboard_auth_0123456789abcdef";

interface Replica {
  url: string;
  store: CoordinationStore;
  auth: DashboardAuth;
}

const coordination = new MemoryCoordinationServer();
const servers: RestServer[] = [];

/** A REST server with the dashboard, on its own client of `server` (default: the shared one). */
async function replica(server = coordination): Promise<Replica> {
  const logger = silentLogger();
  const broker = createMemoryBroker();
  const store = createMemoryCoordinationStore({ server, prefix: "replicas" });
  const directory = await OperatorDirectory.load({
    inMemory: [{ name: "admin", role: "operator", password: PASSWORD }],
  });
  const auth = createDashboardAuth(directory, store);
  const rest = await startRestServer({
    service: new TaskService({
      producer: new Producer({ broker, logger }),
      broker,
      tracking: createNoneTrackingStore(),
      logger,
    }),
    auth: await ApiKeyVerifier.load({ plaintextKeys: [KEY] }),
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: 1_048_576,
    logger,
    dashboard: { auth },
  });
  servers.push(rest);
  return { url: rest.url, store, auth };
}

async function call(
  url: string,
  init: { method?: string; body?: unknown; cookie?: string; csrf?: string; key?: string } = {},
): Promise<{ status: number; detail: string | undefined; json: unknown; cookie: string }> {
  const headers: Record<string, string> = {};
  if (init.cookie) headers.cookie = init.cookie;
  if (init.csrf) headers["x-csrf-token"] = init.csrf;
  if (init.key) headers.authorization = `Bearer ${init.key}`;
  if (init.body !== undefined) headers["content-type"] = "application/json";
  const r = await fetch(url, {
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
    json = undefined;
  }
  const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
  return { status: r.status, detail: (json as { detail?: string })?.detail, json, cookie };
}

async function login(url: string, password = PASSWORD) {
  return call(`${url}/auth/login`, { body: { username: "admin", password } });
}

afterAll(async () => {
  for (const s of servers) await s.close();
});

describe("dashboard sessions shared by API replicas", () => {
  let a: Replica;
  let b: Replica;

  beforeAll(async () => {
    a = await replica();
    b = await replica();
  });

  it("uses a session opened on one replica on the other, CSRF token included", async () => {
    const signed = await login(a.url);
    expect(signed.status).toBe(200);
    const csrf = (signed.json as { csrf_token: string }).csrf_token;
    expect(await call(`${b.url}/auth/session`, { cookie: signed.cookie })).toMatchObject({
      status: 200,
      json: { operator: { name: "admin", role: "operator" }, csrf_token: csrf },
    });
    const task = { function_key: "demo.echo" };
    expect((await call(`${b.url}/v1/tasks`, { body: task, cookie: signed.cookie })).status).toBe(
      403,
    );
    const accepted = await call(`${b.url}/v1/tasks`, { body: task, cookie: signed.cookie, csrf });
    expect(accepted.status).toBe(202);
  });

  it("refuses the cookie on every replica once it logged out on one", async () => {
    const signed = await login(a.url);
    const csrf = (signed.json as { csrf_token: string }).csrf_token;
    expect((await call(`${b.url}/v1/tasks`, { cookie: signed.cookie })).status).toBe(200);
    const out = await call(`${b.url}/auth/logout`, {
      method: "POST",
      cookie: signed.cookie,
      csrf,
    });
    expect(out.status).toBe(204);
    for (const r of [a, b]) {
      expect((await call(`${r.url}/v1/tasks`, { cookie: signed.cookie })).status).toBe(401);
      expect((await call(`${r.url}/auth/session`, { cookie: signed.cookie })).status).toBe(401);
    }
  });

  it("counts failed logins across replicas", async () => {
    const other = await replica();
    const third = await replica();
    // The username budget (5) spread over two replicas; the third refuses the right password.
    for (let i = 0; i < 5; i += 1) {
      const r = await login(i % 2 === 0 ? other.url : b.url, `wrong guess ${i}`);
      expect(r.status).toBe(401);
    }
    const limited = await login(third.url);
    expect(limited.status).toBe(429);
    expect(limited.detail).toMatch(/too many failed logins/);
  });
});

describe("a replica that cannot reach the coordination store", () => {
  let up: Replica;
  let down: Replica;
  let cookie: string;

  beforeAll(async () => {
    const server = new MemoryCoordinationServer();
    up = await replica(server);
    down = await replica(server);
    cookie = (await login(up.url)).cookie;
    await down.store.close();
  });

  it("answers 503, not 401, to a request with a session cookie, saying the store is unreachable", async () => {
    for (const path of ["/v1/tasks", "/auth/session"]) {
      const r = await call(`${down.url}${path}`, { cookie });
      expect(r.status, path).toBe(503);
      expect(r.detail, path).toMatch(/coordination store .* cannot be reached.*retry/);
    }
    expect((await call(`${down.url}/tasks`, { cookie })).status).toBe(503);
    // The session itself is intact: the healthy replica still takes it.
    expect((await call(`${up.url}/v1/tasks`, { cookie })).status).toBe(200);
  });

  it("answers 503 to a login, and serves API keys and cookie-less requests as usual", async () => {
    const r = await login(down.url);
    expect(r.status).toBe(503);
    expect(r.detail).toMatch(/coordination store/);
    expect(r.cookie).toBe("");
    expect((await call(`${down.url}/v1/tasks`, { key: KEY })).status).toBe(200);
    expect((await call(`${down.url}/v1/tasks`)).status).toBe(401);
    expect((await call(`${down.url}/tasks`)).status).toBe(302);
  });
});

describe("a live event stream's session check", () => {
  it("ends the stream a recheck after a logout elsewhere, and keeps it through a store fault", async () => {
    let now = 0;
    const server = new MemoryCoordinationServer();
    const directory = await OperatorDirectory.load({
      inMemory: [{ name: "admin", role: "operator", password: PASSWORD }],
    });
    const store = createMemoryCoordinationStore({ server });
    const dashboard = createDashboardAuth(directory, store);
    const open = async (): Promise<SignedIn> => {
      const { id, session } = await dashboard.sessions.create("admin", "operator");
      return { sessionId: id, session, operator: { name: "admin", role: "operator" } };
    };
    const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

    const signed = await open();
    const still = sessionWatch(dashboard, signed, 1_000, () => now);
    expect(still()).toBe(true);
    await dashboard.sessions.destroy(signed.sessionId);
    now = 999;
    expect(still()).toBe(true); // not rechecked yet
    now = 1_000;
    still();
    await settle();
    expect(still()).toBe(false);

    const kept = await open();
    const faulty = createDashboardAuth(directory, store);
    const watch = sessionWatch(faulty, kept, 1_000, () => now);
    await store.close();
    now += 1_000;
    watch();
    await settle();
    expect(watch()).toBe(true);
    // The absolute limit needs no store.
    now = kept.session.createdAt + faulty.sessions.absoluteMs;
    expect(watch()).toBe(false);
  });
});

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMemoryBroker } from "../../broker/memory/memory-broker.js";
import { createMemoryCoordinationStore } from "../../coordination/memory/memory-coordination-store.js";
import { silentLogger } from "../../logging/logger.js";
import { Producer } from "../../producer/producer.js";
import { createNoneTrackingStore } from "../../tracking/none-store.js";
import { ApiKeyVerifier } from "../auth/api-key-verifier.js";
import { OperatorDirectory } from "../operators/operator-directory.js";
import { createDashboardAuth } from "../rest/dashboard-auth.js";
import { type RestServer, startRestServer } from "../rest/server.js";
import { TaskService } from "../task-service.js";

// The SPA's pages on a real REST server: built (a stand-in index.html and bundle) and not built.

const PASSWORD = "pages test passphrase";
const root = mkdtempSync(path.join(os.tmpdir(), "gotaskq-pages-"));
const servers: RestServer[] = [];

async function serve(dir: string): Promise<string> {
  const logger = silentLogger();
  const broker = createMemoryBroker();
  const tracking = createNoneTrackingStore();
  const directory = await OperatorDirectory.load({
    inMemory: [{ name: "admin", role: "operator", password: PASSWORD }],
  });
  const server = await startRestServer({
    service: new TaskService({
      producer: new Producer({ broker, logger }),
      broker,
      tracking,
      logger,
    }),
    auth: await ApiKeyVerifier.load({}),
    host: "127.0.0.1",
    port: 0,
    bodyLimitBytes: 1_048_576,
    logger,
    dashboard: { auth: createDashboardAuth(directory, createMemoryCoordinationStore()), dir },
  });
  servers.push(server);
  return server.url;
}

async function cookieFor(url: string): Promise<string> {
  const r = await fetch(`${url}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: PASSWORD }),
  });
  expect(r.status).toBe(200);
  return (r.headers.get("set-cookie") ?? "").split(";")[0] as string;
}

afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(root, { recursive: true, force: true });
});

describe("dashboard pages", () => {
  let built: string;
  let missing: string;

  beforeAll(async () => {
    const dist = path.join(root, "dist");
    mkdirSync(path.join(dist, "assets"), { recursive: true });
    writeFileSync(
      path.join(dist, "index.html"),
      '<!doctype html><script type="module" src="/assets/app-1a2b.js"></script>',
    );
    writeFileSync(path.join(dist, "assets", "app-1a2b.js"), "console.log('app');");
    built = await serve(dist);
    missing = await serve(path.join(root, "not-built"));
  });

  it("serves index.html on every client route to a signed-in operator, uncached", async () => {
    const cookie = await cookieFor(built);
    for (const page of ["/", "/tasks", "/tasks/abc", "/submit", "/dlq", "/workers", "/login"]) {
      const r = await fetch(`${built}${page}`, { headers: { cookie } });
      expect(r.status, page).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/^text\/html/);
      expect(r.headers.get("cache-control")).toBe("no-store");
      expect(await r.text()).toContain("/assets/app-1a2b.js");
    }
  });

  it("serves /login and the hashed bundles to anyone, and redirects other pages", async () => {
    expect((await fetch(`${built}/login`)).status).toBe(200);
    const bundle = await fetch(`${built}/assets/app-1a2b.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/javascript/);
    expect(bundle.headers.get("cache-control")).toMatch(/immutable/);
    expect(bundle.headers.get("x-content-type-options")).toBe("nosniff");
    const page = await fetch(`${built}/tasks/abc?x=1`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login?next=%2Ftasks%2Fabc%3Fx%3D1");
    expect((await fetch(`${built}/assets/../index.html`)).status).not.toBe(200);
    expect((await fetch(`${built}/assets/nope.js`)).status).toBe(404);
  });

  it("answers 503 saying how to build it when the SPA was not built", async () => {
    const cookie = await cookieFor(missing);
    for (const page of ["/login", "/tasks", "/assets/app.js"]) {
      const r = await fetch(`${missing}${page}`, { headers: { cookie } });
      expect(r.status, page).toBe(503);
      expect(await r.text()).toMatch(/npm run build/);
    }
    // Without a session a page still redirects first.
    expect((await fetch(`${missing}/tasks`, { redirect: "manual" })).status).toBe(302);
  });
});

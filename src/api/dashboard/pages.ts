import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type DashboardAuth, signedIn } from "../rest/dashboard-auth.js";

// The dashboard's pages on the API server: the SPA built by Vite into dist/dashboard. Every
// client route answers the same index.html, but only to a signed-in operator; anyone else is
// redirected to /login?next=<where they were going>. /login itself and the hashed bundles under
// /assets/ (code and styles, no data) are public. When the SPA was not built, pages answer 503
// saying how to build it. The security headers (CSP…) are added to every response by server.ts.

/** dist/dashboard, from src/api/dashboard (tsx) and dist/api/dashboard (built) alike. */
export const DEFAULT_DASHBOARD_DIR = fileURLToPath(
  new URL("../../../dist/dashboard", import.meta.url),
);

/** The SPA's client routes (besides /login). */
export const PAGE_ROUTES = [
  "/",
  "/tasks",
  "/tasks/:id",
  "/submit",
  "/schedules",
  "/dlq",
  "/workers",
] as const;

const NOT_BUILT =
  "The dashboard is not built: run `npm run build` in the GoTaskQ checkout (it writes dist/dashboard), then reload. The REST API works meanwhile (GET /openapi.json).";

export function registerDashboardPages(
  app: FastifyInstance,
  options: { dashboard: DashboardAuth; dir?: string },
): void {
  const dir = path.resolve(options.dir ?? DEFAULT_DASHBOARD_DIR);
  const index = path.join(dir, "index.html");
  const assets = path.join(dir, "assets");

  const notBuilt = (reply: FastifyReply) =>
    reply
      .code(503)
      .header("content-type", "text/plain; charset=utf-8")
      .header("cache-control", "no-store")
      .send(NOT_BUILT);

  const sendIndex = async (reply: FastifyReply) => {
    let html: Buffer;
    try {
      html = await readFile(index);
    } catch {
      return notBuilt(reply);
    }
    return reply
      .header("content-type", "text/html; charset=utf-8")
      .header("cache-control", "no-store")
      .send(html);
  };

  const page = async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await signedIn(request, options.dashboard))) {
      const next = encodeURIComponent(request.url);
      return reply.header("cache-control", "no-store").redirect(`/login?next=${next}`, 302);
    }
    return sendIndex(reply);
  };

  for (const url of PAGE_ROUTES) app.get(url, page);
  app.get("/login", (_request, reply) => sendIndex(reply));

  if (existsSync(assets)) {
    app.register(fastifyStatic, {
      root: assets,
      prefix: "/assets/",
      index: false,
      // Vite names bundles by content hash: a changed file has a new name.
      immutable: true,
      maxAge: "365d",
    });
  } else {
    app.get("/assets/*", (_request, reply) => notBuilt(reply));
  }
}

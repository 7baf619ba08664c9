/// <reference lib="dom" />
// page.evaluate bodies run in the page: they use the DOM types.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DashboardHarness,
  DEV_PASSWORD,
  loginOverHttp,
  startDashboard,
  VIEWER,
} from "./dashboard-harness.js";

// The dashboard refuses what it must: every page and API call without a session, a
// state-changing request without the session's CSRF token, and a viewer's submit, cancel and
// requeue (which the UI does not even offer). Pages and API in real Chromium, plus plain HTTP.

let h: DashboardHarness;
const ADMIN = { name: "admin", password: DEV_PASSWORD };
const PAGES = ["/", "/tasks", "/submit", "/dlq", "/workers"];

beforeAll(async () => {
  h = await startDashboard({ viewer: true });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe("dashboard security in Chromium", { timeout: 90_000 }, () => {
  it("sends a logged-out visitor to the login page from every page, and refuses API calls", async () => {
    const id = await h.submit({ function_key: "demo.echo", payload: {} });
    const pages = [...PAGES, `/tasks/${id}`];
    for (const pathname of pages) {
      const answer = await h.api(pathname, { key: null });
      expect(answer.status, pathname).toBe(302);
      expect(answer.headers.get("location"), pathname).toBe(
        `/login?next=${encodeURIComponent(pathname)}`,
      );
    }
    const context = await h.browser.newContext();
    const page = await context.newPage();
    for (const pathname of pages) {
      await page.goto(`${h.baseUrl}${pathname}`);
      await page.getByRole("button", { name: "Log in" }).waitFor();
      expect(new URL(page.url()).pathname, pathname).toBe("/login");
    }
    // The API refuses the cookie-less browser too.
    const statuses = await page.evaluate(async (taskId) => {
      const get = (url: string) => fetch(url).then((r) => r.status);
      return {
        tasks: await get("/v1/tasks"),
        task: await get(`/v1/tasks/${taskId}`),
        queues: await get("/v1/queues"),
        events: await get("/v1/events"),
        submit: await fetch("/v1/tasks", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ function_key: "demo.echo" }),
        }).then((r) => r.status),
      };
    }, id);
    expect(statuses).toEqual({ tasks: 401, task: 401, queues: 401, events: 401, submit: 401 });
    await context.close();
  });

  it("logs out: the old session cookie is refused afterwards", async () => {
    const { context, page } = await h.loggedIn();
    const cookie = (await context.cookies()).find((c) => c.name === "gotaskq_session");
    expect(cookie?.httpOnly).toBe(true);
    expect(cookie?.sameSite).toBe("Strict");
    expect(await page.evaluate(() => document.cookie)).not.toContain("gotaskq_session");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.waitForURL(/\/login/);
    const answer = await h.api("/v1/tasks", {
      key: null,
      headers: { cookie: `gotaskq_session=${cookie?.value}` },
    });
    expect(answer.status).toBe(401);
    await page.goto(`${h.baseUrl}/tasks`);
    await page.waitForURL(/\/login\?next=%2Ftasks/);
  });

  it("answers 403 to a state-changing request without the session's CSRF token", async () => {
    const { page } = await h.loggedIn();
    const statuses = await page.evaluate(async () => {
      const session = (await fetch("/auth/session").then((r) => r.json())) as {
        csrf_token: string;
      };
      const post = (headers: Record<string, string>) =>
        fetch("/v1/tasks", {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ function_key: "demo.echo", payload: { csrf: true } }),
        }).then((r) => r.status);
      return {
        none: await post({}),
        wrong: await post({ "x-csrf-token": "not-the-token" }),
        right: await post({ "x-csrf-token": session.csrf_token }),
        logout: await fetch("/auth/logout", { method: "POST" }).then((r) => r.status),
      };
    });
    expect(statuses).toEqual({ none: 403, wrong: 403, right: 202, logout: 403 });

    // The same over plain HTTP with a stolen cookie but no token.
    const { cookie, csrf } = await loginOverHttp(h.baseUrl, ADMIN);
    const id = await h.submit({ function_key: "demo.sleep", payload: { ms: 60_000 } });
    const without = await h.api(`/v1/tasks/${id}/cancel`, {
      method: "POST",
      key: null,
      headers: { cookie },
    });
    expect(without.status).toBe(403);
    const withToken = await h.api(`/v1/tasks/${id}/cancel`, {
      method: "POST",
      key: null,
      headers: { cookie, "x-csrf-token": csrf },
    });
    expect(withToken.status).toBe(202);
  });

  it("shows a viewer no submit, cancel or requeue controls, and the API refuses them", async () => {
    const running = await h.submit({ function_key: "demo.sleep", payload: { ms: 60_000 } });
    const failed = await h.submit({ function_key: "demo.fail", payload: {}, max_retries: 0 });
    await h.waitForTask(running, (t) => t.status === "STARTED", "STARTED");
    await h.waitForTask(failed, (t) => t.status === "FAILURE", "FAILURE");

    const { page } = await h.loggedIn(VIEWER);
    await expect(page.getByText("viewer", { exact: true }).count()).resolves.toBe(1);
    await expect(page.getByRole("link", { name: "Submit" }).count()).resolves.toBe(0);
    await page.goto(`${h.baseUrl}/submit`);
    await page.getByText(/needs the operator role/).waitFor();
    await expect(page.getByRole("button", { name: "Submit task" }).count()).resolves.toBe(0);

    await page.goto(`${h.baseUrl}/tasks/${running}`);
    await page.locator('#task-title [data-status="STARTED"]').waitFor();
    await expect(page.getByRole("button", { name: "Cancel task" }).count()).resolves.toBe(0);
    await page.goto(`${h.baseUrl}/tasks/${failed}`);
    await page.locator('#task-title [data-status="FAILURE"]').waitFor();
    await expect(page.getByRole("button", { name: "Requeue" }).count()).resolves.toBe(0);
    await page.goto(`${h.baseUrl}/dlq?queue=default`);
    await page.getByText(/needs the operator role/).waitFor();
    await expect(page.getByRole("button", { name: /Requeue/ }).count()).resolves.toBe(0);

    // And the server refuses a viewer who sends the requests anyway, token and all.
    const refused = await page.evaluate(
      async ({ runningId, failedId }) => {
        const { csrf_token } = (await fetch("/auth/session").then((r) => r.json())) as {
          csrf_token: string;
        };
        const post = (url: string, body?: unknown) =>
          fetch(url, {
            method: "POST",
            headers: { "content-type": "application/json", "x-csrf-token": csrf_token },
            ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          }).then((r) => r.status);
        return {
          submit: await post("/v1/tasks", { function_key: "demo.echo" }),
          cancel: await post(`/v1/tasks/${runningId}/cancel`),
          requeue: await post(`/v1/tasks/${failedId}/requeue`, {}),
          dlq: await post("/v1/queues/default/dlq/requeue", { all: true }),
        };
      },
      { runningId: running, failedId: failed },
    );
    expect(refused).toEqual({ submit: 403, cancel: 403, requeue: 403, dlq: 403 });
    expect((await h.task(running)).status).toBe("STARTED");
    await h.api(`/v1/tasks/${running}/cancel`, { method: "POST" });
  });

  it("serves pages with a strict Content-Security-Policy", async () => {
    const answer = await h.api("/login", { key: null });
    expect(answer.status).toBe(200);
    const csp = answer.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(answer.headers.get("x-content-type-options")).toBe("nosniff");
    // The built page itself complies: no inline script or style for the policy to block.
    expect(String(answer.json)).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>|<style/);
  });
});

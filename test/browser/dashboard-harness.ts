import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { Sandbox } from "../support/cli.js";
import { ADMIN_KEY } from "../support/dev-server.js";

// What the dashboard's browser suites share: a real `gotaskq dev` (API, dashboard, worker and
// the demo functions in one process, embedded SQLite backends) in its own sandbox, Debian's
// Chromium driven by playwright-core (no downloaded browser), and small helpers to seed tasks
// through the REST API with an API key and to log in through the login page.

export const CHROMIUM = "/usr/bin/chromium";
export const DEV_PASSWORD = "dev-password-for-browser-tests";
export const VIEWER = { name: "viewer1", password: "viewer-password-for-browser-tests" };

export interface TaskJson {
  id: string;
  status: string;
  run: number;
  attempt: number;
  error: { message?: string } | null;
  [key: string]: unknown;
}

export interface DashboardHarness {
  box: Sandbox;
  baseUrl: string;
  browser: Browser;
  /** Script errors and Content-Security-Policy violations seen by any page of `loggedIn`. */
  pageProblems: string[];
  /** fetch against the server with the admin API key (or none with key: null). */
  api(
    pathname: string,
    init?: {
      method?: string;
      body?: unknown;
      key?: string | null;
      headers?: Record<string, string>;
    },
  ): Promise<{ status: number; headers: Headers; json: unknown }>;
  submit(body: Record<string, unknown>): Promise<string>;
  /** Everything `gotaskq dev` printed so far (JSON log lines: its stdout is not a terminal). */
  devOutput(): string;
  task(id: string): Promise<TaskJson>;
  /** Polls the task until `accept` is true (deadline generous for a loaded machine). */
  waitForTask(id: string, accept: (t: TaskJson) => boolean, what: string): Promise<TaskJson>;
  /** A fresh browser context logged in through the login page as `user`. */
  loggedIn(user?: {
    name: string;
    password: string;
  }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

export async function startDashboard(
  options: { viewer?: boolean } = {},
): Promise<DashboardHarness> {
  const box = new Sandbox({
    GOTASKQ_API_KEYS: ADMIN_KEY,
    GOTASKQ_DEV_PASSWORD: DEV_PASSWORD,
  });
  box.env.GOTASKQ_OPERATORS_FILE = path.join(box.dir, "operators.json");
  if (options.viewer) {
    const added = await box.run(
      ["operators", "add", VIEWER.name, "--role", "viewer", "--password-stdin"],
      { stdin: `${VIEWER.password}\n` },
    );
    if (added.code !== 0) throw new Error(`operators add failed: ${added.stderr}${added.stdout}`);
  }
  const dev = await box.start(["dev", "--concurrency", "8"], { readyText: "Stop with Ctrl+C" });
  const baseUrl =
    /Dashboard:\s+(http:\/\/[^/\s]+)/.exec(dev.output())?.[1] ??
    /REST:\s+(http:\/\/\S+)/.exec(dev.output())?.[1];
  if (!baseUrl) throw new Error(`could not read the dashboard URL from:\n${dev.output()}`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  const contexts: BrowserContext[] = [];

  const harness: DashboardHarness = {
    box,
    baseUrl,
    browser,
    pageProblems: [],
    async api(pathname, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      const key = init.key === undefined ? ADMIN_KEY : init.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      if (init.body !== undefined) headers["content-type"] = "application/json";
      const response = await fetch(`${baseUrl}${pathname}`, {
        method: init.method ?? (init.body === undefined ? "GET" : "POST"),
        headers,
        redirect: "manual",
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
      const text = await response.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, json };
    },
    async submit(body) {
      const answer = await harness.api("/v1/tasks", { body });
      if (answer.status !== 202)
        throw new Error(`submit answered ${answer.status}: ${JSON.stringify(answer.json)}`);
      return (answer.json as { id: string }).id;
    },
    async task(id) {
      const answer = await harness.api(`/v1/tasks/${id}`);
      if (answer.status !== 200) throw new Error(`GET task answered ${answer.status}`);
      return answer.json as TaskJson;
    },
    async waitForTask(id, accept, what) {
      const deadline = Date.now() + 30_000;
      let last: TaskJson | undefined;
      while (Date.now() < deadline) {
        const answer = await harness.api(`/v1/tasks/${id}`);
        if (answer.status === 200) {
          last = answer.json as TaskJson;
          if (accept(last)) return last;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`task ${id} never became ${what}; last seen: ${JSON.stringify(last)}`);
    },
    async loggedIn(user = { name: "admin", password: DEV_PASSWORD }) {
      const context = await browser.newContext();
      contexts.push(context);
      const page = await context.newPage();
      page.on("pageerror", (error) => harness.pageProblems.push(String(error)));
      page.on("console", (message) => {
        if (/content security policy/i.test(message.text()))
          harness.pageProblems.push(message.text());
      });
      await page.goto(`${baseUrl}/login`);
      await page.getByLabel("Username").fill(user.name);
      await page.getByLabel("Password").fill(user.password);
      await page.getByRole("button", { name: "Log in" }).click();
      await page.getByRole("button", { name: "Log out" }).waitFor();
      return { context, page };
    },
    devOutput: () => dev.output(),
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close().catch(() => {});
      await box.cleanup();
    },
  };
  return harness;
}

/** The session cookie and CSRF token of a login made over plain HTTP (no browser). */
export async function loginOverHttp(
  baseUrl: string,
  user: { name: string; password: string },
): Promise<{ cookie: string; csrf: string; role: string }> {
  const response = await fetch(`${baseUrl}/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: user.name, password: user.password }),
  });
  if (response.status !== 200) throw new Error(`login answered ${response.status}`);
  const body = (await response.json()) as { csrf_token: string; operator: { role: string } };
  const setCookie = response.headers.get("set-cookie") ?? "";
  const cookie = /gotaskq_session=[^;]+/.exec(setCookie)?.[0];
  if (!cookie) throw new Error(`no session cookie in: ${setCookie}`);
  return { cookie, csrf: body.csrf_token, role: body.operator.role };
}

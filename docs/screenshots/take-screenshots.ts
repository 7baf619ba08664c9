// Makes the README's dashboard screenshots: starts `gotaskq dev` (the built CLI) in a temporary
// folder, submits a mix of demo tasks, logs in with playwright-core in Debian's Chromium and
// saves overview.png, tasks.png and task-detail.png (plus dark and phone variants) here.
//
//   npm run build && npx tsx docs/screenshots/take-screenshots.ts

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium, type Page } from "playwright-core";

const OUT = path.dirname(new URL(import.meta.url).pathname);
const CLI = path.resolve(OUT, "../../dist/cli/main.js");
const KEY = "gtq_screenshots_0123456789abcdef0123456789";
const PASSWORD = "screenshots-only-password";

async function startDev(dir: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [CLI, "dev", "--concurrency", "4"], {
    cwd: dir,
    env: {
      ...process.env,
      GOTASKQ_BROKER_URL: `sqlite://${path.join(dir, "broker.db")}`,
      GOTASKQ_TRACKING_URL: `sqlite://${path.join(dir, "tracking.db")}`,
      GOTASKQ_HTTP_PORT: "0",
      GOTASKQ_GRPC_PORT: "0",
      GOTASKQ_API_KEYS: KEY,
      GOTASKQ_API_KEYS_FILE: path.join(dir, "api-keys.json"),
      GOTASKQ_OPERATORS_FILE: path.join(dir, "operators.json"),
      GOTASKQ_DEV_PASSWORD: PASSWORD,
      GOTASKQ_QUEUES: "default,emails",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev did not start:\n${output}`)), 30_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      const match = /Dashboard:\s+(http:\/\/[^/\s]+)/.exec(output);
      if (match?.[1] && output.includes("Stop with Ctrl+C")) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
  });
  return { child, url };
}

async function submit(url: string, body: Record<string, unknown>): Promise<string> {
  const response = await fetch(`${url}/v1/tasks`, {
    method: "POST",
    headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 202)
    throw new Error(`submit: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

/**
 * A morning of demo traffic, compressed: waves of tasks over SHOT_MINUTES minutes (default 3) so
 * the throughput charts have more than one bar; then a task that fails twice before it gives up.
 */
async function seed(url: string): Promise<string> {
  const customers = ["ada", "grace", "linus", "margaret", "ken", "barbara"];
  const minutes = Number(process.env.SHOT_MINUTES ?? 3);
  const waves = Math.max(1, minutes * 4);
  await submit(url, { function_key: "demo.sleep", payload: { ms: 600_000 } });
  await submit(url, { function_key: "demo.sleep", payload: { ms: 600_000 }, queue: "emails" });
  await submit(url, { function_key: "demo.sleep", payload: { ms: 5_000 }, delay_ms: 3_600_000 });
  for (let wave = 0; wave < waves; wave++) {
    const size = 6 + Math.round(5 * Math.sin(wave / 2) + 5);
    for (let i = 0; i < size; i++) {
      await submit(url, {
        function_key: "demo.echo",
        payload: {
          order: 1000 + wave * 20 + i,
          customer: customers[i % customers.length],
          total_cents: 1299 + i * 7,
        },
        ...(i % 3 === 0 ? { queue: "emails" } : {}),
      });
    }
    await submit(url, { function_key: "demo.flaky", payload: { failures: wave % 3 } });
    if (wave % 3 === 1)
      await submit(url, {
        function_key: "demo.fail",
        payload: { message: "SMTP 421: too many connections" },
        max_retries: 0,
        queue: "emails",
      });
    if (wave < waves - 1) await new Promise((r) => setTimeout(r, 15_000));
  }
  const detail = await submit(url, {
    function_key: "demo.fail",
    payload: { message: "payment gateway timed out after 30 s", order: 1042, amount_cents: 4999 },
    max_retries: 2,
    metadata: { tenant: "acme", trace_id: "4bf92f3577b34da6" },
  });
  await new Promise((r) => setTimeout(r, 5_000));
  return detail;
}

async function login(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/login`);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-shots-"));
  const { child, url } = await startDev(dir);
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  try {
    const detailId = await seed(url);
    const shots: Array<{
      file: string;
      path: string;
      width: number;
      height: number;
      dark?: boolean;
      ready: string;
    }> = [
      { file: "overview.png", path: "/", width: 1280, height: 820, ready: "Live workers" },
      { file: "tasks.png", path: "/tasks", width: 1280, height: 900, ready: "Tasks" },
      {
        file: "task-detail.png",
        path: `/tasks/${detailId}`,
        width: 1280,
        height: 1000,
        ready: "Timeline",
      },
      {
        file: "task-detail-dark.png",
        path: `/tasks/${detailId}`,
        width: 1280,
        height: 1000,
        dark: true,
        ready: "Timeline",
      },
      {
        file: "tasks-phone.png",
        path: "/tasks?status=SUCCESS",
        width: 390,
        height: 844,
        ready: "Tasks",
      },
    ];
    for (const shot of shots) {
      const context = await browser.newContext({
        viewport: { width: shot.width, height: shot.height },
        colorScheme: shot.dark ? "dark" : "light",
        deviceScaleFactor: 1,
      });
      const page = await context.newPage();
      await login(page, url);
      await page.goto(`${url}${shot.path}`);
      await page.getByRole("heading", { name: shot.ready }).first().waitFor();
      await page.waitForTimeout(1_000);
      await page.screenshot({ path: path.join(OUT, shot.file) });
      await context.close();
      console.log(`wrote ${shot.file}`);
    }
  } finally {
    await browser.close();
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

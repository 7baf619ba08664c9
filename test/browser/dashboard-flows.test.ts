/// <reference lib="dom" />
// page.evaluate bodies run in the page: they use the DOM types.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DashboardHarness, DEV_PASSWORD, startDashboard } from "./dashboard-harness.js";

// The operator's day in real headless Chromium against a real `gotaskq dev`: log in, submit
// from the form and watch the task run live, cancel, requeue from the dead-letter queue,
// filter and search the list, and hostile payloads that stay text.

let h: DashboardHarness;

beforeAll(async () => {
  h = await startDashboard();
}, 60_000);

afterAll(async () => {
  await h?.close();
});

const unique = () => Math.random().toString(36).slice(2, 10);

describe("dashboard in Chromium", { timeout: 90_000 }, () => {
  it("logs in through the login page and lands where the visitor wanted to go", async () => {
    const context = await h.browser.newContext();
    const page = await context.newPage();
    await page.goto(`${h.baseUrl}/workers`);
    await page.waitForURL(/\/login\?next=%2Fworkers$/);
    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("not the password");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.getByRole("alert").textContent()).resolves.toBeTruthy();
    await page.getByLabel("Password").fill(DEV_PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { name: "Workers" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/workers");
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    await page.getByRole("heading", { name: "default" }).waitFor();
    await context.close();
  });

  it("submits demo.sleep from the generated form and shows PENDING → STARTED → SUCCESS live", async () => {
    const { page } = await h.loggedIn();
    await page.getByRole("link", { name: "Submit" }).click();
    await page.getByLabel("Function").selectOption("demo.sleep");
    // The form generated from demo.sleep's payload schema writes the JSON editor.
    await page.getByLabel(/^ms/).fill("1500");
    await expect(page.getByLabel("Payload (JSON)").inputValue()).resolves.toContain('"ms": 1500');
    // A delay keeps it PENDING long enough to be seen before the worker starts it.
    await page.getByLabel("Delay (seconds)").fill("2");
    await page.getByRole("button", { name: "Submit task" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    // Record every status the page shows, from now on, without reloading it.
    await page.evaluate(() => {
      const w = window as unknown as { seen: string[]; marker: boolean };
      w.seen = [];
      w.marker = true;
      const read = () => {
        const status = document
          .querySelector("#task-title [data-status]")
          ?.getAttribute("data-status");
        if (status && w.seen[w.seen.length - 1] !== status) w.seen.push(status);
      };
      read();
      new MutationObserver(read).observe(document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        characterData: true,
      });
    });
    await page.waitForFunction(
      () => (window as unknown as { seen: string[] }).seen.includes("SUCCESS"),
      undefined,
      { timeout: 30_000 },
    );
    const seen = await page.evaluate(() => (window as unknown as { seen: string[] }).seen);
    expect(seen).toEqual(["PENDING", "STARTED", "SUCCESS"]);
    // Same document all along: a reload would have dropped the marker.
    expect(await page.evaluate(() => (window as unknown as { marker?: boolean }).marker)).toBe(
      true,
    );
    await page.getByText('"slept_ms": 1500').waitFor();
    await page.getByText("sleeping 1500 ms").waitFor();
    const timeline = await page.getByRole("list", { name: "Status changes" }).textContent();
    expect(timeline).toMatch(/PENDING.*STARTED.*SUCCESS/s);
  });

  it("cancels a running task from its page", async () => {
    const id = await h.submit({ function_key: "demo.sleep", payload: { ms: 120_000 } });
    await h.waitForTask(id, (t) => t.status === "STARTED", "STARTED");
    const { page } = await h.loggedIn();
    await page.goto(`${h.baseUrl}/tasks/${id}`);
    await page.locator('#task-title [data-status="STARTED"]').waitFor();
    await page.getByRole("button", { name: "Cancel task" }).click();
    await page.locator('#task-title [data-status="CANCELED"]').waitFor({ timeout: 20_000 });
    expect((await h.task(id)).status).toBe("CANCELED");
    // A canceled task can run again.
    await page.getByRole("button", { name: "Requeue" }).waitFor();
  });

  it("requeues dead letters: one, a selection, then all", async () => {
    const message = `dlq-${unique()}`;
    const ids = await Promise.all(
      [1, 2, 3].map(() =>
        h.submit({ function_key: "demo.fail", payload: { message }, max_retries: 0 }),
      ),
    );
    for (const id of ids) await h.waitForTask(id, (t) => t.status === "FAILURE", "FAILURE");
    const [one, two, three] = ids as [string, string, string];
    const { page } = await h.loggedIn();
    await page.goto(`${h.baseUrl}/dlq?queue=default`);
    for (const id of ids) await page.locator(`tr[data-task-id="${id}"]`).waitFor();
    await expect(page.locator(`tr[data-task-id="${one}"]`).textContent()).resolves.toContain(
      "retries_exhausted",
    );
    await page
      .locator(`tr[data-task-id="${one}"]`)
      .getByRole("button", { name: "Requeue" })
      .click();
    await page.getByRole("status").filter({ hasText: "Requeued 1 task" }).waitFor();
    await h.waitForTask(one, (t) => t.run === 1, "requeued (run 2)");

    await page.getByLabel(`Select ${two}`).check();
    await page.getByLabel(`Select ${three}`).check();
    await page.getByRole("button", { name: "Requeue selected (2)" }).click();
    await page.getByRole("status").filter({ hasText: "Requeued 2 tasks" }).waitFor();
    await h.waitForTask(two, (t) => t.run === 1, "requeued (run 2)");
    await h.waitForTask(three, (t) => t.run === 1, "requeued (run 2)");

    // demo.fail fails again: all three are back; "Requeue all" asks once more before acting.
    for (const id of ids)
      await h.waitForTask(id, (t) => t.run === 1 && t.status === "FAILURE", "failed again");
    await page.reload();
    for (const id of ids) await page.locator(`tr[data-task-id="${id}"]`).waitFor();
    await page.getByRole("button", { name: "Requeue all…" }).click();
    await page
      .getByRole("button", { name: "Confirm: requeue every dead letter in default" })
      .click();
    await page
      .getByRole("status")
      .filter({ hasText: /Requeued \d+ tasks?/ })
      .waitFor();
    for (const id of ids) await h.waitForTask(id, (t) => t.run === 2, "requeued (run 3)");
  });

  it("filters and searches the task list, and a new matching task appears live", async () => {
    const needle = `needle-${unique()}`;
    const failed = await h.submit({
      function_key: "demo.fail",
      payload: { message: `boom ${needle}` },
      max_retries: 0,
    });
    const echoed = await h.submit({ function_key: "demo.echo", payload: { n: 1 } });
    await h.waitForTask(failed, (t) => t.status === "FAILURE", "FAILURE");
    await h.waitForTask(echoed, (t) => t.status === "SUCCESS", "SUCCESS");
    const { page } = await h.loggedIn();
    await page.getByRole("link", { name: "Tasks" }).click();
    await page.locator(`tr[data-task-id="${echoed}"]`).waitFor();

    // Search by error text: only the failed task.
    await page.getByLabel("Search id, function or error").fill(needle);
    await page.waitForURL(new RegExp(`q=${needle}`));
    await page.locator(`tr[data-task-id="${failed}"]`).waitFor();
    await expect.poll(() => page.locator("tbody tr").count(), { timeout: 10_000 }).toBe(1);
    // Search by id.
    await page.getByLabel("Search id, function or error").fill(echoed);
    await page.locator(`tr[data-task-id="${echoed}"]`).waitFor();
    await expect.poll(() => page.locator("tbody tr").count(), { timeout: 10_000 }).toBe(1);

    // Filter by status and function; a task submitted now shows up without a reload.
    await page.getByRole("button", { name: "Clear" }).click();
    await page.getByLabel("Function", { exact: true }).fill("demo.echo");
    await page.getByRole("checkbox", { name: "SUCCESS" }).check();
    await page.waitForURL(/status=SUCCESS/);
    await page.waitForURL(/function=demo.echo/);
    await page.locator(`tr[data-task-id="${echoed}"]`).waitFor();
    await page.locator(`tr[data-task-id="${failed}"]`).waitFor({ state: "detached" });
    const statuses = await page.locator("tbody [data-status]").allTextContents();
    expect(new Set(statuses)).toEqual(new Set(["SUCCESS"]));
    const live = await h.submit({ function_key: "demo.echo", payload: { live: true } });
    await page
      .locator(`tr[data-task-id="${live}"] [data-status="SUCCESS"]`)
      .waitFor({ timeout: 20_000 });
    const ignored = await h.submit({ function_key: "demo.sleep", payload: { ms: 1 } });
    await h.waitForTask(ignored, (t) => t.status === "SUCCESS", "SUCCESS");
    await expect(page.locator(`tr[data-task-id="${ignored}"]`).count()).resolves.toBe(0);
  });

  it("shows hostile payloads, results and errors as text, and no script runs", async () => {
    const html = "<img src=x onerror=alert(1)>";
    const { page } = await h.loggedIn();
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    // Submitted from the dashboard's own JSON editor.
    await page.getByRole("link", { name: "Submit" }).click();
    await page.getByLabel("Function").selectOption("demo.echo");
    await page.getByLabel("Payload (JSON)").fill(JSON.stringify({ html }));
    await page.getByRole("button", { name: "Submit task" }).click();
    await page.waitForURL(/\/tasks\/[0-9a-f-]{36}$/);
    await page.locator('#task-title [data-status="SUCCESS"]').waitFor({ timeout: 20_000 });
    // Payload and result both carry it, as JSON text.
    await expect(page.locator("pre.json").filter({ hasText: html }).count()).resolves.toBe(2);

    const failed = await h.submit({
      function_key: "demo.fail",
      payload: { message: html },
      max_retries: 0,
    });
    await h.waitForTask(failed, (t) => t.status === "FAILURE", "FAILURE");
    await page.goto(`${h.baseUrl}/tasks/${failed}`);
    await page.locator(".error-message").filter({ hasText: html }).waitFor();
    await page.goto(`${h.baseUrl}/tasks?q=${encodeURIComponent("onerror")}`);
    await page.locator(`tr[data-task-id="${failed}"]`).getByText(html).waitFor();

    expect(await page.locator("main img").count()).toBe(0);
    expect(dialogs).toEqual([]);
  });

  it("numbers attempts and runs from 0 in the API, the CLI, the handler, the logs and the dashboard", async () => {
    const id = await h.submit({
      function_key: "demo.flaky",
      payload: { failures: 2 },
      max_retries: 3,
    });
    const task = await h.waitForTask(id, (t) => t.status === "SUCCESS", "SUCCESS");
    // Two failed attempts (0 and 1), then attempt 2 succeeds; the handler saw ctx.attempt = 2.
    expect(task).toMatchObject({ attempt: 2, run: 0, result: { attempt: 2 } });
    const cli = await h.box.json<Record<string, unknown>>(["status", id]);
    expect(cli).toMatchObject({ attempt: 2, run: 0 });
    const lines = h
      .devOutput()
      .split("\n")
      .filter((line) => line.includes(id))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.find((l) => l.event === "succeeded")).toMatchObject({ attempt: 2, run: 0 });
    // A failure is logged with the attempt that failed, a retry with the attempt it schedules.
    const numbered = (event: string) =>
      lines.filter((l) => l.event === event).map((l) => [l.attempt, l.run]);
    expect(numbered("failed")).toEqual([
      [0, 0],
      [1, 0],
    ]);
    expect(numbered("retry_scheduled")).toEqual([
      [1, 0],
      [2, 0],
    ]);
    const { page } = await h.loggedIn();
    await page.goto(`${h.baseUrl}/tasks/${id}`);
    await page.locator('#task-title [data-status="SUCCESS"]').waitFor({ timeout: 20_000 });
    expect(await page.locator('[data-fact="Attempt"]').textContent()).toBe("2 (max 3)");
    expect(await page.locator('[data-fact="Run"]').textContent()).toBe("0");
  });

  it("keeps a 900 KB, 64-deep payload collapsed until asked, and stays responsive", async () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < 63; i++) deep = { d: deep };
    const payload = {
      deep,
      big: Array.from({ length: 9_000 }, (_, i) => `item ${i} ${"x".repeat(90)}`),
    };
    const id = await h.submit({ function_key: "demo.echo", payload });
    await h.waitForTask(id, (t) => t.status === "SUCCESS", "SUCCESS");
    const { page } = await h.loggedIn();
    await page.goto(`${h.baseUrl}/tasks/${id}`);
    await page.getByText(/Payload collapsed \(9\d\d\.\d KB, nested 64 levels\)/).waitFor();
    await page.getByRole("button", { name: "Show payload" }).click();
    const tree = page.getByRole("list", { name: "Payload" });
    await tree.getByRole("button", { name: /big \[9000 items\]/ }).click();
    // Only the first page of children is rendered; more on request.
    await tree.getByRole("button", { name: /Show 100 more/ }).waitFor();
    expect(await tree.locator("li").count()).toBeLessThan(300);
    // Still answers input.
    expect(await page.evaluate(() => 1 + 1)).toBe(2);
  });

  it("is usable with the keyboard: skip link, visible focus, links and buttons", async () => {
    const { page } = await h.loggedIn();
    const focused = () =>
      page.evaluate(() => {
        const el = document.activeElement as HTMLElement | null;
        return {
          text: el?.textContent?.trim(),
          outline: el ? getComputedStyle(el).outlineStyle : "",
        };
      });
    await page.keyboard.press("Tab");
    expect(await focused()).toEqual({ text: "Skip to content", outline: "solid" });
    await page.keyboard.press("Tab"); // brand
    await page.keyboard.press("Tab"); // Overview
    await page.keyboard.press("Tab"); // Tasks
    expect((await focused()).text).toBe("Tasks");
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Tasks" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/tasks");
    // The search box takes Enter to apply at once.
    await page.getByLabel("Search id, function or error").focus();
    await page.keyboard.type("demo.echo");
    await page.keyboard.press("Enter");
    await page.waitForURL(/q=demo\.echo/);
  });

  it("ran every page above without a script error or a Content-Security-Policy violation", () => {
    expect(h.pageProblems).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DashboardHarness, startDashboard } from "./dashboard-harness.js";

// The schedules page in real headless Chromium against a real `gotaskq dev` (which runs the
// scheduler): create a schedule from the form (a refused one shows the server's message), see
// its next run, pause it, trigger it now and watch the triggered task run in its history.

let h: DashboardHarness;

beforeAll(async () => {
  h = await startDashboard();
}, 60_000);

afterAll(async () => {
  await h?.close();
});

interface ScheduleJson {
  id: string;
  paused: boolean;
  next_runs: string[];
}

describe("schedules page in Chromium", { timeout: 90_000 }, () => {
  it("creates, pauses and triggers a schedule, and shows the task it ran", async () => {
    const { page } = await h.loggedIn();
    await page.getByRole("link", { name: "Schedules" }).click();
    await page.getByRole("heading", { name: "Schedules" }).waitFor();

    // A refused schedule: the server's message, and nothing stored.
    await page.getByLabel("Schedule id").fill("ui-beat");
    await page.getByLabel("Function key").fill("demo.echo");
    await page.getByLabel("Every").fill("500ms");
    await page.getByRole("button", { name: "Create schedule" }).click();
    await page.getByRole("alert").filter({ hasText: "every must be at least 1s" }).waitFor();
    expect(((await h.api("/v1/schedules")).json as { schedules: unknown[] }).schedules).toEqual([]);

    await page.getByLabel("Every").fill("1h");
    await page.getByLabel("Payload (JSON)").fill('{"from":"the dashboard"}');
    await page.getByRole("button", { name: "Create schedule" }).click();
    const row = page.locator('tr[data-schedule-id="ui-beat"]');
    await row.waitFor();
    await expect(row.textContent()).resolves.toMatch(/every 1h.*demo\.echo.*in \d+ min/s);
    const stored = (await h.api("/v1/schedules/ui-beat")).json as ScheduleJson;
    expect(stored.next_runs).toHaveLength(3);

    await row.getByRole("button", { name: "Pause" }).click();
    await row.getByRole("button", { name: "Resume" }).waitFor();
    expect(((await h.api("/v1/schedules/ui-beat")).json as ScheduleJson).paused).toBe(true);

    await row.getByRole("button", { name: "Trigger now" }).click();
    const status = page
      .getByRole("status")
      .filter({ hasText: /Triggered ui-beat: task [0-9a-f-]{36}/ });
    await status.waitFor();
    const taskId = /task ([0-9a-f-]{36})/.exec((await status.textContent()) ?? "")?.[1] as string;
    await h.waitForTask(taskId, (t) => t.status === "SUCCESS", "SUCCESS");
    const history = page.getByRole("region", { name: "Tasks of ui-beat" });
    await history
      .locator(`tr[data-task-id="${taskId}"] [data-status="SUCCESS"]`)
      .waitFor({ timeout: 20_000 });
    await expect(history.locator(`tr[data-task-id="${taskId}"]`).textContent()).resolves.toContain(
      "manual",
    );
    // The list's last outcome follows the triggered task.
    await row.locator('[data-status="SUCCESS"]').waitFor({ timeout: 20_000 });
    expect(h.pageProblems).toEqual([]);
  });
});

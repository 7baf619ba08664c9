import { expect } from "vitest";
import type { TaskStatus } from "../../core/status.js";
import type { TaskEvent } from "../tracking-store.js";
import type { TrackingCase, TrackingCaseName } from "./case-list.case.js";
import { allPages, MINUTE, submitted, T0, taskId } from "./fixtures.case.js";

// list(): filters, text search and cursor pagination.

function finished(id: string, status: TaskStatus, at: number, message?: string): TaskEvent {
  return {
    taskId: id,
    run: 0,
    attempt: 0,
    status,
    at,
    completedAt: at,
    ...(message ? { error: { message, type: "Error" } } : {}),
  };
}

export const QUERY_CASES = {
  "list-filters": async ({ store }) => {
    const ids = Array.from({ length: 6 }, () => taskId());
    const [a, b, c, d, e, f] = ids as [string, string, string, string, string, string];
    await store.record([
      submitted(a, T0, { functionKey: "email.send", queue: "mail" }),
      submitted(b, T0 + MINUTE, { functionKey: "email.send", queue: "mail" }),
      finished(b, "SUCCESS", T0 + MINUTE + 5),
      submitted(c, T0 + 2 * MINUTE, { functionKey: "report.build" }),
      finished(c, "FAILURE", T0 + 2 * MINUTE + 5, "boom"),
      submitted(d, T0 + 3 * MINUTE, { functionKey: "report.build", queue: "mail" }),
      finished(d, "CANCELED", T0 + 3 * MINUTE + 5),
      submitted(e, T0 + 4 * MINUTE, { functionKey: "email.send" }),
      { taskId: e, run: 0, attempt: 0, status: "STARTED", at: T0 + 4 * MINUTE + 1 },
      // Known only from a worker's event: listed at the time it was first seen.
      { taskId: f, run: 0, attempt: 0, status: "STARTED", at: T0 + 5 * MINUTE },
    ]);
    const list = async (query: Parameters<typeof store.list>[0]) =>
      (await store.list(query)).tasks.map((t) => t.id);
    expect(await list({})).toEqual([f, e, d, c, b, a]);
    expect(await list({ status: ["FAILURE", "CANCELED"] })).toEqual([d, c]);
    expect(await list({ status: ["PENDING"] })).toEqual([a]);
    expect(await list({ functionKey: "email.send" })).toEqual([e, b, a]);
    expect(await list({ queue: "mail" })).toEqual([d, b, a]);
    expect(
      await list({ queue: "mail", functionKey: "report.build", status: ["CANCELED"] }),
    ).toEqual([d]);
    // since is inclusive, until exclusive.
    expect(await list({ since: T0 + MINUTE, until: T0 + 3 * MINUTE })).toEqual([c, b]);
    expect(await list({ since: T0 + 5 * MINUTE })).toEqual([f]);
    expect(await list({ functionKey: "no.such.key" })).toEqual([]);
  },

  "metadata-filter": async ({ store }) => {
    const ids = Array.from({ length: 5 }, () => taskId());
    const [a, b, c, d, e] = ids as [string, string, string, string, string];
    const schedule = (value: string) => ({ metadata: { "gotaskq.schedule": value, team: "ops" } });
    await store.record([
      submitted(a, T0, schedule("nightly")),
      submitted(b, T0 + 1, schedule("Nightly")),
      submitted(c, T0 + 2, schedule("nightly-2")),
      submitted(d, T0 + 3, { metadata: { note: '"gotaskq.schedule":"nightly"' } }),
      submitted(e, T0 + 4, schedule("nightly")),
      finished(e, "SUCCESS", T0 + 5),
    ]);
    const list = async (query: Parameters<typeof store.list>[0]) =>
      (await store.list(query)).tasks.map((t) => t.id);
    const nightly = { key: "gotaskq.schedule", value: "nightly" };
    expect(await list({ metadata: nightly })).toEqual([e, a]);
    expect(await list({ metadata: { key: "gotaskq.schedule", value: "Nightly" } })).toEqual([b]);
    expect(await list({ metadata: nightly, status: ["SUCCESS"] })).toEqual([e]);
    expect(await list({ metadata: { key: "gotaskq.schedule", value: "night" } })).toEqual([]);
    expect(await list({ metadata: { key: "team", value: "ops" } })).toEqual([e, c, b, a]);
  },

  "text-search": async ({ store }) => {
    const ids = Array.from({ length: 5 }, () => taskId());
    const [a, b, c, d, e] = ids as [string, string, string, string, string];
    await store.record([
      submitted(a, T0, { functionKey: "Email.Send" }),
      submitted(b, T0 + 1, { functionKey: "report.build" }),
      finished(b, "FAILURE", T0 + 2, "Disk 100% FULL_now"),
      submitted(c, T0 + 3, { functionKey: "report_build" }),
      submitted(d, T0 + 4, { functionKey: "media.resize" }),
      finished(d, "FAILURE", T0 + 5, "Größe ÜBERSCHRITTEN"),
      submitted(e, T0 + 6, { functionKey: "plain.task" }),
    ]);
    const search = async (text: string) =>
      (await store.list({ text })).tasks.map((t) => t.id).sort();
    expect(await search("EMAIL.s")).toEqual([a]);
    expect(await search("full_NOW")).toEqual([b]);
    expect(await search("100%")).toEqual([b]);
    expect(await search("%")).toEqual([b]);
    expect(await search("t_b")).toEqual([c]);
    expect(await search("_")).toEqual([b, c].sort());
    expect(await search("überschritten")).toEqual([d]);
    expect(await search(c.slice(-12).toUpperCase())).toEqual([c]);
    expect(await search("report")).toEqual([b, c].sort());
    expect(await search("no such text")).toEqual([]);
    // Combined with a filter.
    expect(
      (await store.list({ text: "report", status: ["FAILURE"] })).tasks.map((t) => t.id),
    ).toEqual([b]);
  },

  "cursor-paging": async ({ store }) => {
    const sortTime = new Map<string, number>();
    const events: TaskEvent[] = [];
    for (let i = 0; i < 120; i += 1) {
      const id = taskId();
      // Many ties on the creation time (the id breaks them), and some tasks known only from a
      // worker's event.
      const at = T0 + Math.floor(i / 7) * 1_000;
      sortTime.set(id, at);
      events.push(
        i % 10 === 3
          ? { taskId: id, run: 0, attempt: 0, status: "STARTED", at }
          : submitted(id, at),
      );
    }
    await store.record(events);
    const first = await store.list({ limit: 50 });
    expect(first.tasks).toHaveLength(50);
    expect(first.nextCursor).toEqual(expect.any(String));
    // Records created after the first page was read must not shift the following pages.
    await store.record([
      submitted(taskId(), T0 + 10 * 60 * MINUTE),
      submitted(taskId(), T0 + 8_500),
    ]);
    const second = await store.list({ limit: 50, cursor: first.nextCursor as string });
    const third = await store.list({ limit: 50, cursor: second.nextCursor as string });
    const ids = [...first.tasks, ...second.tasks, ...third.tasks]
      .map((t) => t.id)
      .filter((id) => sortTime.has(id));
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
    const times = ids.map((id) => sortTime.get(id) as number);
    expect(times).toEqual([...times].sort((x, y) => y - x));
    expect(third.nextCursor).toBeUndefined();
    // The cursor also works with a filter, and an exact multiple of the limit ends cleanly.
    const started = await allPages(store, { status: ["STARTED"], limit: 4 });
    expect(started.ids).toHaveLength(12);
    expect(started.pages).toBe(3);
  },

  "cursor-left-set": async ({ store }) => {
    // Ties on the creation time, so the cursor's position is found among equal times.
    const ids = Array.from({ length: 9 }, () => taskId());
    await store.record(ids.map((id, i) => submitted(id, T0 + Math.floor(i / 3) * 1_000)));
    const expected = (await allPages(store, { status: ["PENDING"] })).ids;
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await store.list({
        status: ["PENDING"],
        limit: 2,
        ...(cursor ? { cursor } : {}),
      });
      seen.push(...page.tasks.map((t) => t.id));
      cursor = page.nextCursor;
      // The task the cursor points at starts running: it leaves the PENDING index.
      const last = page.tasks.at(-1);
      if (last) {
        await store.record([
          { taskId: last.id, run: 0, attempt: 0, status: "STARTED", at: T0 + 5_000 },
        ]);
      }
    } while (cursor);
    expect(seen).toEqual(expected);
  },

  "paging-arguments": async ({ store }) => {
    await expect(store.list({ cursor: "not-a-cursor" })).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(store.list({ limit: 0 })).rejects.toMatchObject({ code: "invalid_argument" });
    await expect(store.list({ limit: 501 })).rejects.toMatchObject({ code: "invalid_argument" });
    expect((await store.list({ limit: 500 })).tasks).toEqual([]);
  },
} satisfies Partial<Record<TrackingCaseName, TrackingCase>>;

import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { flakyLifecycle, flakyOutcome, T0 } from "../conformance/fixtures.case.js";
import { describeTrackingConformance } from "../conformance/tracking.case.js";
import { openSqlTrackingStore } from "./sql-tracking-store.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "gotaskq-tracking-sqlite-"));
let files = 0;

afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describeTrackingConformance("sqlite", async () => {
  files += 1;
  const file = path.join(root, `case-${files}`, "tracking.db");
  const store = await openSqlTrackingStore(`sqlite://${file}`);
  return {
    store,
    reopen: () => openSqlTrackingStore(`sqlite://${file}`),
    async cleanup() {
      await store.close();
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    },
  };
});

describe("SQLite tracking store", () => {
  it("opens sqlite::memory:, relative and absolute paths, and creates missing directories", async () => {
    const memory = await openSqlTrackingStore("sqlite::memory:");
    expect(memory.kind).toBe("sqlite");
    await memory.migrate();
    expect(await memory.list({})).toEqual({ tasks: [] });
    await memory.close();
    await memory.close();

    const relative = path.relative(process.cwd(), path.join(root, "nested", "dir", "rel.db"));
    const store = await openSqlTrackingStore(`sqlite://${relative}`);
    await store.migrate();
    await store.close();
    expect(fs.existsSync(path.join(root, "nested", "dir", "rel.db"))).toBe(true);
  });

  it("refuses URLs it cannot open, saying which forms work", async () => {
    await expect(openSqlTrackingStore("mysql://x")).rejects.toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("sqlite::memory:"),
    });
    await expect(openSqlTrackingStore("sqlite://")).rejects.toMatchObject({
      code: "invalid_argument",
    });
    await expect(
      openSqlTrackingStore("postgres://127.0.0.1/test", { schema: "Bad-Name" }),
    ).rejects.toMatchObject({ code: "invalid_argument" });
  });

  it("reports a closed store as unavailable", async () => {
    const store = await openSqlTrackingStore("sqlite::memory:");
    await store.migrate();
    await store.close();
    await expect(store.get("x")).rejects.toMatchObject({ code: "unavailable" });
  });

  it("converges when separate processes migrate and write the same file at once", async () => {
    const file = path.join(root, "processes", "tracking.db");
    const module = path.join(path.dirname(fileURLToPath(import.meta.url)), "sql-tracking-store.ts");
    const ids = Array.from(
      { length: 20 },
      (_, i) => `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
    );
    // Each process writes every task's lifecycle in its own order, one event per transaction.
    const script = `
      const { openSqlTrackingStore } = await import(${JSON.stringify(module)});
      const [file, seed, events] = [process.argv[1], Number(process.argv[2]), JSON.parse(process.argv[3])];
      const store = await openSqlTrackingStore("sqlite://" + file);
      await store.migrate();
      const order = events.map((e, i) => [((i + 1) * seed * 7919) % 1009, e]).sort((a, b) => a[0] - b[0]);
      for (const [, event] of order) await store.record([event]);
      await store.close();
    `;
    const events = ids.flatMap((id, i) => flakyLifecycle(id, T0 + i));
    const run = promisify(execFile);
    await Promise.all(
      [1, 2, 3].map((seed) =>
        run(
          process.execPath,
          [
            "--import",
            "tsx",
            "--input-type=module",
            "-e",
            script,
            file,
            String(seed),
            JSON.stringify(events),
          ],
          {
            timeout: 25_000,
          },
        ),
      ),
    );
    const store = await openSqlTrackingStore(`sqlite://${file}`);
    try {
      for (const [i, id] of ids.entries())
        expect(await store.get(id)).toMatchObject(flakyOutcome(id, T0 + i));
    } finally {
      await store.close();
    }
  });
});

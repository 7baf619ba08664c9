import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { describeTrackingConformance } from "../conformance/tracking.case.js";
import { openSqlTrackingStore } from "./sql-tracking-store.js";

// Each case gets its own schema, named after this run, dropped when the case ends; a crashed run
// leaves schemas named gotaskq_test_* behind, removed by the afterAll of the next run.

const available = await serviceAvailable("postgres");
const url = SERVICES.postgres.url;
// gotaskq_test_<start time, base 36>_<pid>: the time lets a later run spot leftovers.
const run = `gotaskq_test_${Date.now().toString(36)}_${process.pid}`;
let schemas = 0;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function dropSchema(schema: string): Promise<void> {
  await admin((c) => c.query(`drop schema if exists ${schema} cascade`));
}

describe.skipIf(!available)("PostgreSQL tracking store", () => {
  afterAll(async () => {
    // Schemas of this run or of runs older than an hour (crashed before their cleanup).
    const { rows } = await admin((c) =>
      c.query<{ nspname: string }>(
        "select nspname from pg_namespace where nspname like 'gotaskq_test_%'",
      ),
    );
    for (const { nspname } of rows) {
      const stamp = Number.parseInt(nspname.split("_")[2] ?? "", 36);
      if (nspname.startsWith(run) || Date.now() - stamp > 3_600_000) await dropSchema(nspname);
    }
  });

  describeTrackingConformance("postgres", async () => {
    schemas += 1;
    const schema = `${run}_${schemas}`;
    return {
      open: () => openSqlTrackingStore(url, { schema }),
      cleanup: () => dropSchema(schema),
    };
  });

  it("accepts postgresql:// and ?schema= in the URL", async () => {
    const schema = `${run}_url`;
    const store = await openSqlTrackingStore(
      `${url.replace(/^postgres:/, "postgresql:")}?schema=${schema}`,
    );
    try {
      expect(store.kind).toBe("postgres");
      await store.migrate();
      const { rows } = await admin((c) =>
        c.query(
          "select table_name from information_schema.tables where table_schema = $1 order by 1",
          [schema],
        ),
      );
      expect(rows.map((r) => r.table_name)).toEqual(
        expect.arrayContaining(["task_logs", "tasks", "workers", "gotaskq_tracking_migration"]),
      );
    } finally {
      await store.close();
      await dropSchema(schema);
    }
  });

  it("fails as unavailable, without hanging, when the server cannot be reached", async () => {
    const store = await openSqlTrackingStore("postgres://postgres@127.0.0.1:1/test");
    try {
      await expect(
        store.record([{ taskId: "x", run: 0, attempt: 0, status: "PENDING", at: 1 }]),
      ).rejects.toMatchObject({
        code: "unavailable",
      });
    } finally {
      await store.close();
    }
  });
});

import { type Kysely, type Migration, sql } from "kysely";
import type { SqlKind } from "../../records/schema.js";

// The first schema: tasks, their log lines and worker heartbeats. Every list filter has an index
// that ends with the list order (sort_at, id), so a filtered page is an index range scan in both
// engines; the text search is a scan over search_text (a substring LIKE cannot use a B-tree).

export function initialMigration(kind: SqlKind): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable("tasks")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("function_key", "text")
        .addColumn("queue", "text")
        .addColumn("priority", "integer")
        .addColumn("payload", "text")
        .addColumn("max_retries", "integer")
        .addColumn("timeout_ms", "integer")
        .addColumn("metadata", "text")
        .addColumn("idempotency_key", "text")
        .addColumn("created_at", "bigint")
        .addColumn("sort_at", "bigint", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("status_rank", "integer", (c) => c.notNull())
        .addColumn("run", "integer", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("started_at", "bigint")
        .addColumn("completed_at", "bigint")
        .addColumn("duration_ms", "bigint")
        .addColumn("run_at", "bigint")
        .addColumn("result", "text")
        .addColumn("worker_id", "text")
        .addColumn("delivery_count", "integer")
        .addColumn("dead_letter_reason", "text")
        .addColumn("error", "text")
        .addColumn("error_search", "text")
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        // A newline separates the parts so a search cannot match across two of them. A SUCCESS
        // keeps its last failure in `error` (merge.ts) but is not found by that failure's text.
        .addColumn("search_text", "text", (c) =>
          c
            .generatedAlwaysAs(
              sql`lower(id || ${sql.lit("\n")} || coalesce(function_key, '')) || ${sql.lit("\n")} || (case when status = 'SUCCESS' then '' else coalesce(error_search, '') end)`,
            )
            .stored(),
        )
        .execute();

      for (const [name, columns] of [
        ["tasks_sort_idx", ["sort_at", "id"]],
        ["tasks_status_sort_idx", ["status", "sort_at", "id"]],
        ["tasks_function_key_sort_idx", ["function_key", "sort_at", "id"]],
        ["tasks_queue_sort_idx", ["queue", "sort_at", "id"]],
        ["tasks_updated_idx", ["updated_at"]],
      ] as const) {
        await db.schema
          .createIndex(name)
          .on("tasks")
          .columns([...columns])
          .execute();
      }

      await db.schema
        .createTable("task_logs")
        .addColumn("seq", kind === "postgres" ? "bigint" : "integer", (c) =>
          kind === "postgres" ? c.primaryKey().generatedByDefaultAsIdentity() : c.primaryKey(),
        )
        .addColumn("task_id", "text", (c) => c.notNull())
        .addColumn("attempt", "integer", (c) => c.notNull())
        .addColumn("at", "bigint", (c) => c.notNull())
        .addColumn("level", "text", (c) => c.notNull())
        .addColumn("message", "text", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("task_logs_task_idx")
        .on("task_logs")
        .columns(["task_id", "at", "seq"])
        .execute();
      await db.schema.createIndex("task_logs_at_idx").on("task_logs").column("at").execute();

      await db.schema
        .createTable("workers")
        .addColumn("worker_id", "text", (c) => c.primaryKey())
        .addColumn("host", "text", (c) => c.notNull())
        .addColumn("pid", "integer", (c) => c.notNull())
        .addColumn("queues", "text", (c) => c.notNull())
        .addColumn("concurrency", "integer", (c) => c.notNull())
        .addColumn("running", "integer", (c) => c.notNull())
        .addColumn("functions", "text", (c) => c.notNull())
        .addColumn("version", "text", (c) => c.notNull())
        .addColumn("started_at", "bigint", (c) => c.notNull())
        .addColumn("seen_at", "bigint", (c) => c.notNull())
        .addColumn("stopped_at", "bigint")
        .execute();
      await db.schema.createIndex("workers_seen_idx").on("workers").column("seen_at").execute();
    },

    async down(db: Kysely<unknown>): Promise<void> {
      await db.schema.dropTable("workers").ifExists().execute();
      await db.schema.dropTable("task_logs").ifExists().execute();
      await db.schema.dropTable("tasks").ifExists().execute();
    },
  };
}

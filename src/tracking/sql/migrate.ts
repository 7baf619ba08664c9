import { type Kysely, type Migration, Migrator } from "kysely";
import type { SqlKind, TrackingDatabase } from "../records/schema.js";
import { initialMigration } from "./migrations/0001_initial.js";

// Numbered migrations, provided in code (no directory scan: the build output and the tests see
// the same list). Each entry's name sorts in application order; never rename or edit an
// applied one, add the next number instead.
//
// Concurrency: several processes may call migrate() at once. PostgreSQL serialises them with
// Kysely's advisory lock around a transaction; SQLite with the BEGIN IMMEDIATE transaction of
// sqlite-dialect.ts. Either way the second process finds the migrations applied and does nothing.

function migrations(kind: SqlKind): Record<string, Migration> {
  return {
    "0001_initial": initialMigration(kind),
  };
}

export async function migrateTrackingSchema(
  db: Kysely<TrackingDatabase>,
  kind: SqlKind,
  schema: string | undefined,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(kind) },
    // Own names, so a database shared with another Kysely application keeps separate histories.
    migrationTableName: "gotaskq_tracking_migration",
    migrationLockTableName: "gotaskq_tracking_migration_lock",
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  const { error } = await migrator.migrateToLatest();
  if (error !== undefined) throw error;
}

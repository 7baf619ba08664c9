import type pg from "pg";

// The coordination tables, as numbered migrations applied in code (no directory scan). Never edit
// or rename an applied one; add the next number instead.
//
// Every row carries its deployment prefix (`ns`) and its expiry as epoch milliseconds by the
// DATABASE's clock (`expires_at`); a row whose expires_at <= now is absent to every statement and
// is removed lazily (overwritten by the next write of its key, or by the sweep). Keys and names
// use the "C" collation so that list() pages in byte order, the same order on every server
// whatever its locale, and so the primary key's btree serves prefix ranges.
//
// Concurrency: several processes may open the store at once. One transaction holds an advisory
// lock named after the schema while it creates what is missing, so the second process waits,
// then finds every migration applied (a bare CREATE TABLE IF NOT EXISTS can still fail on a
// concurrent creation with a unique violation in pg_type).

interface Migration {
  name: string;
  sql: string;
}

const MIGRATIONS: readonly Migration[] = [
  {
    name: "0001_initial",
    sql: `
      create table gotaskq_coordination_entries (
        ns text collate "C" not null,
        key text collate "C" not null,
        value text not null,
        expires_at bigint not null,
        primary key (ns, key)
      );
      create index gotaskq_coordination_entries_expiry on gotaskq_coordination_entries (expires_at);

      -- tokens as of updated_at (fractional: refill is continuous); granted says whether the
      -- latest take succeeded, because RETURNING sees only the new row, not the old level.
      create table gotaskq_coordination_buckets (
        ns text collate "C" not null,
        name text collate "C" not null,
        tokens double precision not null,
        updated_at bigint not null,
        granted boolean not null,
        expires_at bigint not null,
        primary key (ns, name)
      );
      create index gotaskq_coordination_buckets_expiry on gotaskq_coordination_buckets (expires_at);

      create table gotaskq_coordination_slots (
        ns text collate "C" not null,
        name text collate "C" not null,
        holder text collate "C" not null,
        expires_at bigint not null,
        primary key (ns, name, holder)
      );
      create index gotaskq_coordination_slots_expiry on gotaskq_coordination_slots (expires_at);

      create table gotaskq_coordination_counters (
        ns text collate "C" not null,
        name text collate "C" not null,
        value bigint not null,
        expires_at bigint not null,
        primary key (ns, name)
      );
      create index gotaskq_coordination_counters_expiry on gotaskq_coordination_counters (expires_at);
    `,
  },
];

/** Creates the schema (when not public) and applies the missing migrations, once across processes. */
export async function migrateCoordinationSchema(
  client: pg.PoolClient,
  schema: string,
): Promise<void> {
  await client.query("begin");
  try {
    await client.query("select pg_advisory_xact_lock(hashtextextended($1, 0))", [
      `gotaskq_coordination_migration:${schema}`,
    ]);
    // public always exists, and creating it (even IF NOT EXISTS) needs CREATE on the database.
    if (schema !== "public") await client.query(`create schema if not exists ${schema}`);
    await client.query(
      `create table if not exists ${schema}.gotaskq_coordination_migration (
         name text primary key,
         applied_at timestamptz not null default now()
       )`,
    );
    const { rows } = await client.query<{ name: string }>(
      `select name from ${schema}.gotaskq_coordination_migration`,
    );
    const applied = new Set(rows.map((row) => row.name));
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.name)) continue;
      await client.query(migration.sql);
      await client.query(
        `insert into ${schema}.gotaskq_coordination_migration (name) values ($1)`,
        [migration.name],
      );
    }
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => {});
    throw error;
  }
}

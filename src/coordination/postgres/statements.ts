// The SQL of every coordination operation, one statement each (the semaphore's acquire runs
// under a lock taken by the statement before it, in one transaction). Parameters are listed above
// each statement; durations are milliseconds, passed as whole numbers.
//
// NOW is the database's clock in epoch milliseconds. statement_timestamp() is fixed for the
// whole statement (every comparison in it agrees) yet moves on with each statement of a
// transaction (a statement that waited for a lock does not judge expiry by a stale time).
// The client's clock is never read.

const NOW = "(floor(extract(epoch from statement_timestamp()) * 1000)::bigint)";

const ENTRIES = "gotaskq_coordination_entries";
const BUCKETS = "gotaskq_coordination_buckets";
const SLOTS = "gotaskq_coordination_slots";
const COUNTERS = "gotaskq_coordination_counters";

/**
 * $1 ns, $2 key, $3 value, $4 ttl → claimed, and the live holder's value and ttl_ms when not.
 * The holder is read from the statement's snapshot; when a racer committed the key while this
 * statement waited on it, the snapshot predates that row and the answer is neither (the caller
 * runs the statement again: by then the racer's row is visible).
 */
export const CLAIM = `
  with claimed as (
    insert into ${ENTRIES} as e (ns, key, value, expires_at)
    values ($1, $2, $3, ${NOW} + $4::bigint)
    on conflict (ns, key) do update set value = excluded.value, expires_at = excluded.expires_at
      where e.expires_at <= ${NOW}
    returning 1
  )
  select exists (select 1 from claimed) as claimed, h.value, h.expires_at - ${NOW} as ttl_ms
  from (select 1) as one
  left join ${ENTRIES} as h
    on h.ns = $1 and h.key = $2 and h.expires_at > ${NOW} and not exists (select 1 from claimed)`;

/**
 * $1 ns, $2 keys, $3 values, $4 ttls (parallel arrays; the keys distinct) → per request, in
 * request order: ord (1-based), claimed, and the live holder's value and ttl_ms when not.
 * CLAIM for many keys in one statement. The upsert takes the keys in byte order, as
 * REPLACE_MANY locks them, so two batches over overlapping keys wait for each other instead of
 * deadlocking. The holders are read from the statement's snapshot (data-modifying CTEs are
 * invisible to the main query), with CLAIM's caveat: a key a racer committed while this
 * statement waited on it answers neither, and the caller claims it again.
 */
export const CLAIM_MANY = `
  with req as (
    select r.key, r.value, r.ttl, r.ord
    from unnest($2::text[], $3::text[], $4::bigint[]) with ordinality as r(key, value, ttl, ord)
  ),
  claimed as (
    insert into ${ENTRIES} as e (ns, key, value, expires_at)
    select $1, req.key, req.value, ${NOW} + req.ttl from req order by req.key collate "C"
    on conflict (ns, key) do update set value = excluded.value, expires_at = excluded.expires_at
      where e.expires_at <= ${NOW}
    returning e.key
  )
  select req.ord, c.key is not null as claimed, h.value, h.expires_at - ${NOW} as ttl_ms
  from req
  left join claimed as c on c.key = req.key
  left join ${ENTRIES} as h
    on h.ns = $1 and h.key = req.key and h.expires_at > ${NOW} and c.key is null
  order by req.ord`;

/** $1 ns, $2 key, $3 value, $4 ttl. */
export const PUT = `
  insert into ${ENTRIES} (ns, key, value, expires_at)
  values ($1, $2, $3, ${NOW} + $4::bigint)
  on conflict (ns, key) do update set value = excluded.value, expires_at = excluded.expires_at`;

/** $1 ns, $2 key → value, ttl_ms of the live entry (no row when absent or expired). */
export const READ = `
  select value, expires_at - ${NOW} as ttl_ms
  from ${ENTRIES}
  where ns = $1 and key = $2 and expires_at > ${NOW}`;

/** $1 ns, $2 key, $3 expected, $4 value, $5 ttl; one row updated when it still held expected. */
export const REPLACE = `
  update ${ENTRIES}
  set value = $4, expires_at = ${NOW} + $5::bigint
  where ns = $1 and key = $2 and value = $3 and expires_at > ${NOW}`;

/**
 * $1 ns, $2 keys, $3 expected values, $4 values, $5 ttls (parallel arrays; the keys distinct) →
 * key of every entry replaced. REPLACE for many keys in one statement; the matching rows are
 * locked in byte order of their keys first (as CLAIM_MANY takes them), so two batches over
 * overlapping keys never deadlock. A row changed by a racer after the snapshot is judged again
 * on its latest version (READ COMMITTED), as REPLACE's is.
 */
export const REPLACE_MANY = `
  with req as (
    select r.key, r.expected, r.value, r.ttl
    from unnest($2::text[], $3::text[], $4::text[], $5::bigint[]) as r(key, expected, value, ttl)
  ),
  locked as (
    select e.key from ${ENTRIES} as e
    join req on req.key = e.key
    where e.ns = $1 and e.value = req.expected and e.expires_at > ${NOW}
    order by e.key
    for update of e
  )
  update ${ENTRIES} as e
  set value = req.value, expires_at = ${NOW} + req.ttl
  from req
  join locked on locked.key = req.key
  where e.ns = $1 and e.key = req.key and e.value = req.expected and e.expires_at > ${NOW}
  returning e.key`;

/**
 * $1 ns, $2 key, $3 expected (null: any) → live: how many live entries were removed (0 or 1).
 * An expired row matching is removed too (it was absent already), but does not count.
 */
export const RELEASE = `
  with removed as (
    delete from ${ENTRIES}
    where ns = $1 and key = $2 and ($3::text is null or value = $3::text)
    returning expires_at
  )
  select count(*) filter (where expires_at > ${NOW}) as live from removed`;

/**
 * $1 ns, $2 key prefix, $3 after ('' for the first page), $4 rows → key, value, ttl_ms in key
 * order. `key >= prefix` bounds the primary key's range scan; starts_with ends it, and needs no
 * escaping of % or _ as LIKE would.
 */
export const LIST = `
  select key, value, expires_at - ${NOW} as ttl_ms
  from ${ENTRIES}
  where ns = $1 and key >= $2 and starts_with(key, $2) and key > $3 and expires_at > ${NOW}
  order by key
  limit $4`;

// Tokens available now, before this take: a forgotten (expired) bucket is full; otherwise the
// stored level plus the refill since it was stored, capped at the limit. $3 limit, $4 interval.
const AVAILABLE = `(case when b.expires_at <= ${NOW} then $3::float8
  else least($3::float8, b.tokens + (${NOW} - b.updated_at) * $3::float8 / $4::bigint) end)`;
/** Refill arithmetic in floating point: a level a hair under a whole token counts as that token. */
const ENOUGH = `${AVAILABLE} >= $5::float8 - 1e-9`;

/**
 * $1 ns, $2 name, $3 limit, $4 interval, $5 count → granted, tokens (left after the take).
 * The upsert locks the bucket's row, so the level it reads is the latest, never a racer's stale
 * one. A bucket lives one interval after its latest take: by then it would be full anyway.
 */
export const TAKE_TOKENS = `
  insert into ${BUCKETS} as b (ns, name, tokens, updated_at, granted, expires_at)
  values ($1, $2, $3::float8 - $5::float8, ${NOW}, true, ${NOW} + $4::bigint)
  on conflict (ns, name) do update set
    tokens = greatest(0, ${AVAILABLE} - case when ${ENOUGH} then $5::float8 else 0 end),
    granted = ${ENOUGH},
    updated_at = excluded.updated_at,
    expires_at = excluded.expires_at
  returning granted, tokens`;

/**
 * $1 lock name. Serialises the acquirers of one semaphore until their transaction ends, so two
 * of them cannot both count limit - 1 holders. A hash collision between two names only makes
 * them wait for each other.
 */
export const LOCK_SEMAPHORE = "select pg_advisory_xact_lock(hashtextextended($1, 0))";

/**
 * $1 ns, $2 name, $3 holder, $4 limit, $5 lease → held (live slots of others), acquired.
 * Runs after LOCK_SEMAPHORE in the same transaction. Expired slots of others are removed here;
 * the holder's own row, live or not, is renewed by the upsert instead (deleting and inserting
 * one row in one statement is not allowed).
 */
export const ACQUIRE_SLOT = `
  with purged as (
    delete from ${SLOTS}
    where ns = $1 and name = $2 and holder <> $3 and expires_at <= ${NOW}
  ),
  others as (
    select count(*) as held from ${SLOTS}
    where ns = $1 and name = $2 and holder <> $3 and expires_at > ${NOW}
  ),
  taken as (
    insert into ${SLOTS} (ns, name, holder, expires_at)
    select $1, $2, $3, ${NOW} + $5::bigint from others where others.held < $4::bigint
    on conflict (ns, name, holder) do update set expires_at = excluded.expires_at
    returning 1
  )
  select (select held from others) as held, exists (select 1 from taken) as acquired`;

/** $1 ns, $2 name, $3 holder, $4 lease; one row updated while the slot is live. */
export const RENEW_SLOT = `
  update ${SLOTS} set expires_at = ${NOW} + $4::bigint
  where ns = $1 and name = $2 and holder = $3 and expires_at > ${NOW}`;

/** $1 ns, $2 name, $3 holder. */
export const RELEASE_SLOT = `delete from ${SLOTS} where ns = $1 and name = $2 and holder = $3`;

/** $1 ns, $2 name, $3 delta, $4 ttl → value. An expired counter restarts from 0. */
export const ADD = `
  insert into ${COUNTERS} as c (ns, name, value, expires_at)
  values ($1, $2, $3::bigint, ${NOW} + $4::bigint)
  on conflict (ns, name) do update set
    value = case when c.expires_at <= ${NOW} then excluded.value else c.value + excluded.value end,
    expires_at = excluded.expires_at
  returning value`;

/**
 * $1 rows per table. Removes up to that many expired rows from each table, whatever their
 * deployment (they are absent to everyone), skipping rows another transaction holds.
 */
export const SWEEP = `
  with ${[ENTRIES, BUCKETS, SLOTS, COUNTERS]
    .map(
      (table, i) => `swept_${i} as (
    delete from ${table} where ctid = any(array(
      select ctid from ${table} where expires_at <= ${NOW} limit $1 for update skip locked)))`,
    )
    .join(",\n  ")}
  select 1`;

export const PING = "select 1";

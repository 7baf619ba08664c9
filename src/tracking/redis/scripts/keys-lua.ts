import { SORT_DIGITS } from "../task-hash.js";

// The key layout, and the Lua functions several scripts share. Every key starts with the base
// `{<prefix>}:t:` (redis-keys.ts); the scripts build the names from ARGV[1] = base, so one call
// reaches any task's keys. All keys share the hash tag, so on Redis Cluster they live in one slot
// and KEYS[1] (the time index, always passed) routes the call there.
//
//   task:<id>         hash   the task's columns (task-hash.ts)
//   time              zset   every task: member = id, score = sort_at
//   st:<STATUS>       zset   the tasks in that status: member = id, score = sort_at
//   fn:<function key> zset   the tasks of that function: member = id, score = sort_at
//   q:<queue>         zset   the tasks of that queue: member = id, score = sort_at
//   upd               zset   member = id, score = updated_at: updates(), oldest first, and the
//                            retention sweep (a task's age is its updated_at…)
//   due               zset   member = id, score = run_at, for tasks whose run_at is later than
//                            their updated_at (delayed, or a retry waiting): …or that run_at
//   tp:<minute>       hash   finished tasks whose completed_at is in that minute (epoch ms of its
//                            start): field "s<queue>" (SUCCESS) / "f<queue>" (FAILURE) → count
//   tpm               zset   the minutes that have a tp: hash (member and score = the minute)
//   log:<id>          zset   log lines: score = time, member "<seq, 12 hex>|attempt|level|message"
//   logage            zset   member id, score = the time of that task's oldest kept line
//   logseq            string the counter behind the log members' insertion order
//   w:<worker id>     string the worker's latest heartbeat (JSON)
//   workers           zset   member worker id, score = seen_at
//   schema            string the layout of these keys (redis-tracking-store.ts SCHEMA_VERSION)
//
// Every index is member = task id, score = a time (epoch ms, exact in a double): a zset orders
// equal scores by member bytes, so an index is in (time, id) order, the SQL store's (sort_at, id).
// Against members that spell the time out ("<13 digits>:<id>", layout 2) this makes an entry
// cheaper to add and to find, and a changed time an update in place (ZADD) rather than ZREM +
// ZADD; the price is that a position (a cursor, a chunk boundary) is a (score, id) pair, which
// count_before / count_after below turn into a rank to walk from.

/** The width of the throughput counters' buckets (tp:<minute>). */
export const THROUGHPUT_MINUTE_MS = 60_000;

export const SHARED_LUA = `
local base = ARGV[1]
local SORT_DIGITS = ${SORT_DIGITS}

local function num(text) return tonumber(text) end
-- Times and scores as integer text: Lua's default number formatting rounds to 14 digits.
local function int(n) return string.format("%d", n) end
local SORT_MAX = ${10 ** SORT_DIGITS - 1}
-- A time as an index member's prefix: fixed width, clamped (task-hash.ts paddedSortAt).
local function pad(ms)
  local n = num(ms)
  if n < 0 then n = 0 elseif n > SORT_MAX then n = SORT_MAX end
  return string.format("%0" .. SORT_DIGITS .. "d", n)
end

local function unindex(id, st, fk, q)
  redis.call("ZREM", base .. "time", id)
  redis.call("ZREM", base .. "upd", id)
  redis.call("ZREM", base .. "due", id)
  if st then redis.call("ZREM", base .. "st:" .. st, id) end
  if fk then redis.call("ZREM", base .. "fn:" .. fk, id) end
  if q then redis.call("ZREM", base .. "q:" .. q, id) end
end

-- Byte order (memcmp), as Redis orders members of equal score: Lua's < uses strcoll.
local function bytes_after(a, b)
  if a == b then return false end
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return #a > #b
end

-- How many members of an index sort before the position (score, id), ascending (with through,
-- the member at the position too): the rank an oldest-first walk starts from. With id "",
-- before every member of that score. O(log n), unless id is no longer in the index with that
-- score: then its score's members are compared one by one (a few, bar a batch that shares a
-- millisecond).
local function count_before(key, score, id, through)
  if id ~= "" then
    local s = redis.call("ZSCORE", key, id)
    if s and num(s) == num(score) then
      return redis.call("ZRANK", key, id) + (through and 1 or 0)
    end
  end
  local n = redis.call("ZCOUNT", key, "-inf", "(" .. score)
  if id ~= "" then
    for _, m in ipairs(redis.call("ZRANGE", key, score, score, "BYSCORE")) do
      if bytes_after(id, m) then n = n + 1 end
    end
  end
  return n
end

-- How many members sort at or after the position (score, id): the rank a newest-first walk
-- (ZRANGE … REV by rank) starts from to stay strictly below it. With id "", every member of
-- that score counts (an exclusive upper time bound, as until is).
local function count_after(key, score, id)
  if id == "" then return redis.call("ZCOUNT", key, score, "+inf") end
  local s = redis.call("ZSCORE", key, id)
  if s and num(s) == num(score) then return redis.call("ZREVRANK", key, id) + 1 end
  local n = redis.call("ZCOUNT", key, "(" .. score, "+inf")
  for _, m in ipairs(redis.call("ZRANGE", key, score, score, "BYSCORE")) do
    if not bytes_after(id, m) then n = n + 1 end
  end
  return n
end

-- Removes a task's hash and its index entries, unless its age (latest event, or due time when
-- later) is at or after cutoff. Returns true when removed. A task kept for its due time leaves
-- the retention's walk of \`upd\` (which would otherwise meet it again on every sweep) and waits
-- in \`due\`; its next event puts it back in \`upd\`. (Such a task is then missing from
-- updates() pages that start before the retention cut-off, which no live reader asks for.)
local function remove_task(id, cutoff)
  local key = base .. "task:" .. id
  local f = redis.call("HMGET", key, "st", "fk", "q", "ua", "ra")
  if not f[1] then
    unindex(id, nil, nil, nil)
    return false
  end
  if cutoff then
    local ua = num(f[4])
    local ra = f[5] and num(f[5]) or ua
    if ra >= cutoff and ua < cutoff then
      redis.call("ZADD", base .. "due", f[5], id)
      redis.call("ZREM", base .. "upd", id)
      return false
    end
    if ua >= cutoff or ra >= cutoff then
      redis.call("ZREM", base .. "due", id)
      return false
    end
  end
  unindex(id, f[1], f[2] or nil, f[3] or nil)
  redis.call("DEL", key)
  return true
end

-- Up to limit tasks (from each of \`upd\` and \`due\`) aged before cutoff: how many were removed,
-- and whether more may wait.
local function remove_tasks_before(cutoff, limit)
  local removed, more = 0, false
  for _, index in ipairs({ "upd", "due" }) do
    local ids = redis.call("ZRANGE", base .. index, "-inf", "(" .. int(cutoff), "BYSCORE", "LIMIT", 0, limit)
    for _, id in ipairs(ids) do
      if remove_task(id, cutoff) then removed = removed + 1 end
    end
    if #ids == limit then more = true end
  end
  return removed, more
end

-- Log lines written before cutoff, for up to limit tasks: lines removed, and whether more may wait.
local function remove_lines_before(cutoff, limit)
  local ids = redis.call("ZRANGE", base .. "logage", "-inf", "(" .. int(cutoff), "BYSCORE", "LIMIT", 0, limit)
  local removed = 0
  for _, id in ipairs(ids) do
    local key = base .. "log:" .. id
    removed = removed + redis.call("ZREMRANGEBYSCORE", key, "-inf", "(" .. int(cutoff))
    local first = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    if first[2] then
      redis.call("ZADD", base .. "logage", first[2], id)
    else
      redis.call("ZREM", base .. "logage", id)
    end
  end
  return removed, #ids == limit
end

-- Throughput minutes that ended before cutoff, up to limit: how many, and whether more may wait.
-- (A finished task's completed_at is at most its updated_at, so such a minute only counts tasks
-- past the retention, bar one whose run_at is later still.)
local function remove_minutes_before(cutoff, limit)
  local minutes = redis.call("ZRANGE", base .. "tpm", "-inf", "(" .. int(cutoff - ${THROUGHPUT_MINUTE_MS}), "BYSCORE", "LIMIT", 0, limit)
  for _, minute in ipairs(minutes) do
    redis.call("DEL", base .. "tp:" .. minute)
    redis.call("ZREM", base .. "tpm", minute)
  end
  return #minutes, #minutes == limit
end

-- Workers last seen before cutoff, up to limit: how many, and whether more may wait.
local function remove_workers_before(cutoff, limit)
  local ids = redis.call("ZRANGE", base .. "workers", "-inf", "(" .. int(cutoff), "BYSCORE", "LIMIT", 0, limit)
  for _, id in ipairs(ids) do
    redis.call("DEL", base .. "w:" .. id)
    redis.call("ZREM", base .. "workers", id)
  end
  return #ids, #ids == limit
end

`;

/** How many expired entries of each kind a write script removes along the way (bounded work per call). */
export const SWEEP_PER_CALL = 100;

/**
 * Expired tasks a merge call removes along the way: as many as the rows it may add
 * (redis-tracking-store.ts ROWS_PER_CALL), so under a steady load the sweep keeps pace with the
 * writes and expired tasks never pile up.
 */
export const TASK_SWEEP_PER_CALL = 1_000;

import { SHARED_LUA, THROUGHPUT_MINUTE_MS } from "./keys-lua.js";

// The reads behind updates() and throughput() (the dashboard's live stream and overview), and
// the one-time upgrade of a prefix written before they existed. Keys in keys-lua.ts.

/**
 * One page of updates(): walks the `upd` index (member id, score updated_at: oldest change
 * first, the id breaking ties) from a position.
 *
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] retention cut-off (epoch ms; 0 = none); ARGV[3] limit (1–500)
 * ARGV[4]  start: an updated_at; ARGV[5] "" to start at that time, or the id of the position
 *          (updated_at, id) to start strictly after
 * ARGV[6]  budget: index entries examined at most
 * Returns { id, HGETALL of id, id, HGETALL of id, … } with up to limit tasks.
 *
 * An entry whose hash Redis already expired is removed, and a task past the retention is
 * removed whole (remove_task checks its exact age), so skipped entries are paid for once; both
 * after the walk, which goes by rank.
 */
export const UPDATES_LUA = `${SHARED_LUA}
local cutoff, limit, budget = num(ARGV[2]), num(ARGV[3]), num(ARGV[6])
local key_upd = base .. "upd"
local rank = count_before(key_upd, ARGV[4], ARGV[5], true)
local out, found, scanned, gone, expired = {}, 0, 0, {}, {}
while found < limit and scanned < budget do
  local chunk = math.min(limit - found + 16, budget - scanned)
  local ids = redis.call("ZRANGE", key_upd, rank, rank + chunk - 1)
  rank = rank + chunk
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    scanned = scanned + 1
    local key = base .. "task:" .. id
    local f = redis.call("HMGET", key, "ua", "ra")
    if not f[1] then
      gone[#gone + 1] = id
    elseif cutoff > 0 and math.max(num(f[1]), num(f[2] or "0")) < cutoff then
      expired[#expired + 1] = id
    else
      out[#out + 1] = id
      out[#out + 1] = redis.call("HGETALL", key)
      found = found + 1
      if found == limit then break end
    end
  end
  if #ids < chunk then break end
end
for _, id in ipairs(gone) do redis.call("ZREM", key_upd, id) end
for _, id in ipairs(expired) do remove_task(id, cutoff) end
return out
`;

/**
 * One chunk of the exact throughput scan (throughput() queries that the per-minute counters
 * cannot answer: a bucket width that is not a whole number of minutes, or a start inside a
 * minute). Walks `upd` from the start time: a finished task's completed_at is at most its
 * updated_at, so every task finished since then is in that range.
 *
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] retention cut-off (0 = none); ARGV[3] since (epoch ms)
 * ARGV[4]  start: an updated_at; ARGV[5] "" to start at that time, or the id of the last
 *          position of the previous chunk (updated_at, id), to start strictly after it
 * ARGV[6]  entries per chunk
 * Returns { last position examined "<updated_at>:<id>", or "" when the index is exhausted,
 * status, queue, completed_at, status, queue, completed_at, … } for the finished tasks among them.
 */
export const FINISHED_LUA = `${SHARED_LUA}
local cutoff, since, chunk = num(ARGV[2]), num(ARGV[3]), num(ARGV[6])
local key_upd = base .. "upd"
local rank = count_before(key_upd, ARGV[4], ARGV[5], true)
local entries = redis.call("ZRANGE", key_upd, rank, rank + chunk - 1, "WITHSCORES")
local out = { "" }
if #entries == chunk * 2 then out[1] = entries[#entries] .. ":" .. entries[#entries - 1] end
for k = 1, #entries, 2 do
  local f = redis.call("HMGET", base .. "task:" .. entries[k], "st", "q", "cd", "ua", "ra")
  if f[1] and f[2] and f[3] and (f[1] == "SUCCESS" or f[1] == "FAILURE") and num(f[3]) >= since
    and (cutoff == 0 or math.max(num(f[4]), num(f[5] or "0")) >= cutoff) then
    out[#out + 1] = f[1]
    out[#out + 1] = f[2]
    out[#out + 1] = f[3]
  end
end
return out
`;

/**
 * Upgrades a prefix of layout 1 or 2 (index members "<13-digit time>:<id>", score 0; layout 1
 * also without `upd` and the throughput counters) to layout 3 (member id, score the time):
 * reads every task id from the old time index, drops the old indexes and builds the new ones
 * (and, from layout 1, the counters) from the task hashes, then sets the layout, all in one
 * atomic call, so processes migrating at once upgrade it exactly once. It holds Redis for the
 * whole walk (about 1.5 s per 100k tasks on a 2-core machine), once.
 *
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] retention ms (0 = keep); ARGV[3] grace ms
 * Returns the number of tasks indexed, or -1 when the layout was neither 1 nor 2 (nothing done).
 */
export const UPGRADE_LUA = `${SHARED_LUA}
local retention, grace = num(ARGV[2]), num(ARGV[3])
local MINUTE = ${THROUGHPUT_MINUTE_MS}
local layout = redis.call("GET", base .. "schema")
if layout ~= "1" and layout ~= "2" then return -1 end
local ids, lower = {}, "-"
while true do
  local members = redis.call("ZRANGE", base .. "time", lower, "+", "BYLEX", "LIMIT", 0, 1000)
  for _, member in ipairs(members) do ids[#ids + 1] = string.sub(member, SORT_DIGITS + 2) end
  if #members < 1000 then break end
  lower = "(" .. members[#members]
end
local rows, fns, queues = {}, {}, {}
for _, id in ipairs(ids) do
  local key = base .. "task:" .. id
  local f = redis.call("HMGET", key, "sa", "st", "fk", "q", "ua", "cd")
  if f[1] then
    -- Layout 2 gave every task hash a Redis expiry and an "ag" field; layout 3 has neither.
    redis.call("PERSIST", key)
    redis.call("HDEL", key, "ag")
    rows[#rows + 1] = { id, f }
    if f[3] then fns[f[3]] = true end
    if f[4] then queues[f[4]] = true end
  end
end
-- Layout 2's retention index goes too: \`upd\` (and \`due\`, filled by the sweep) replace it.
local old = { base .. "time", base .. "upd", base .. "age" }
for _, status in ipairs({ "PENDING", "STARTED", "SUCCESS", "FAILURE", "CANCELED" }) do
  old[#old + 1] = base .. "st:" .. status
end
for fk in pairs(fns) do old[#old + 1] = base .. "fn:" .. fk end
for q in pairs(queues) do old[#old + 1] = base .. "q:" .. q end
for k = 1, #old, 1000 do redis.call("DEL", unpack(old, k, math.min(k + 999, #old))) end
for _, row in ipairs(rows) do
  local id, f = row[1], row[2]
  local sa = f[1]
  redis.call("ZADD", base .. "time", sa, id)
  redis.call("ZADD", base .. "upd", f[5], id)
  if f[2] then redis.call("ZADD", base .. "st:" .. f[2], sa, id) end
  if f[3] then redis.call("ZADD", base .. "fn:" .. f[3], sa, id) end
  if f[4] then redis.call("ZADD", base .. "q:" .. f[4], sa, id) end
  if layout == "1" and f[4] and f[6] and (f[2] == "SUCCESS" or f[2] == "FAILURE") then
    local t = num(f[6])
    local minute = int(t - t % MINUTE)
    local tp = base .. "tp:" .. minute
    redis.call("HINCRBY", tp, (f[2] == "SUCCESS" and "s" or "f") .. f[4], 1)
    redis.call("ZADD", base .. "tpm", minute, minute)
    if retention > 0 then redis.call("PEXPIREAT", tp, int(num(minute) + MINUTE + retention + grace)) end
  end
end
redis.call("SET", base .. "schema", "3")
return #rows
`;

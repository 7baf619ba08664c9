import { SHARED_LUA, THROUGHPUT_MINUTE_MS } from "./keys-lua.js";

// The reads behind updates() and throughput() (the dashboard's live stream and overview), and
// the one-time upgrade of a prefix written before they existed. Keys in keys-lua.ts.

/**
 * One page of updates(): walks the `upd` index (members "<updated_at, 13 digits>:<id>", so
 * oldest change first, the id breaking ties) from a lower bound.
 *
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] retention cut-off (epoch ms; 0 = none); ARGV[3] limit (1–500)
 * ARGV[4]  lower bound: "[<padded updatedSince>" or "(<member after which to start>"
 * ARGV[5]  budget: index entries examined at most
 * Returns { id, HGETALL of id, id, HGETALL of id, … } with up to limit tasks.
 *
 * An entry whose hash Redis already expired is removed, and a task past the retention is
 * removed whole (remove_task checks its exact age), so skipped entries are paid for once.
 */
export const UPDATES_LUA = `${SHARED_LUA}
local cutoff, limit, lower, budget = num(ARGV[2]), num(ARGV[3]), ARGV[4], num(ARGV[5])
local out, found, scanned = {}, 0, 0
while found < limit and scanned < budget do
  local chunk = math.min(limit - found + 16, budget - scanned)
  local members = redis.call("ZRANGE", base .. "upd", lower, "+", "BYLEX", "LIMIT", 0, chunk)
  if #members == 0 then break end
  for _, member in ipairs(members) do
    scanned = scanned + 1
    lower = "(" .. member
    local id = string.sub(member, SORT_DIGITS + 2)
    local key = base .. "task:" .. id
    local f = redis.call("HMGET", key, "ua", "ra")
    if not f[1] then
      redis.call("ZREM", base .. "upd", member)
    elseif cutoff > 0 and math.max(num(f[1]), num(f[2] or "0")) < cutoff then
      remove_task(id, cutoff)
    else
      out[#out + 1] = id
      out[#out + 1] = redis.call("HGETALL", key)
      found = found + 1
      if found == limit then break end
    end
  end
  if #members < chunk then break end
end
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
 * ARGV[4]  lower bound: "[<padded since>" or "(<last member of the previous chunk>"
 * ARGV[5]  entries per chunk
 * Returns { last member examined, or "" when the index is exhausted, status, queue,
 * completed_at, status, queue, completed_at, … } for the finished tasks among them.
 */
export const FINISHED_LUA = `${SHARED_LUA}
local cutoff, since, lower, chunk = num(ARGV[2]), num(ARGV[3]), ARGV[4], num(ARGV[5])
local members = redis.call("ZRANGE", base .. "upd", lower, "+", "BYLEX", "LIMIT", 0, chunk)
local out = { "" }
if #members == chunk then out[1] = members[#members] end
for _, member in ipairs(members) do
  local id = string.sub(member, SORT_DIGITS + 2)
  local f = redis.call("HMGET", base .. "task:" .. id, "st", "q", "cd", "ua", "ra")
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
 * Upgrades a prefix of layout 1 (before updates() and throughput()) to layout 2: builds the
 * `upd` index and the throughput counters from every stored task, then sets the layout, all in
 * one atomic call, so processes migrating at once upgrade it exactly once. It holds Redis for
 * the whole walk (a few hundred ms per 100k tasks), once.
 *
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] retention ms (0 = keep); ARGV[3] grace ms
 * Returns the number of tasks indexed, or -1 when the layout was not 1 (nothing done).
 */
export const UPGRADE_LUA = `${SHARED_LUA}
local retention, grace = num(ARGV[2]), num(ARGV[3])
local MINUTE = ${THROUGHPUT_MINUTE_MS}
if redis.call("GET", base .. "schema") ~= "1" then return -1 end
local lower, total = "-", 0
while true do
  local members = redis.call("ZRANGE", base .. "time", lower, "+", "BYLEX", "LIMIT", 0, 1000)
  for _, member in ipairs(members) do
    local id = string.sub(member, SORT_DIGITS + 2)
    local key = base .. "task:" .. id
    local f = redis.call("HMGET", key, "ua", "st", "q", "cd")
    if f[1] then
      total = total + 1
      redis.call("ZADD", base .. "upd", 0, pad(f[1]) .. ":" .. id)
      if f[3] and f[4] and (f[2] == "SUCCESS" or f[2] == "FAILURE") then
        local t = num(f[4])
        local minute = int(t - t % MINUTE)
        local tp = base .. "tp:" .. minute
        redis.call("HINCRBY", tp, (f[2] == "SUCCESS" and "s" or "f") .. f[3], 1)
        redis.call("ZADD", base .. "tpm", minute, minute)
        if retention > 0 then redis.call("PEXPIREAT", tp, int(num(minute) + MINUTE + retention + grace)) end
      end
    end
  end
  if #members < 1000 then break end
  lower = "(" .. members[#members]
end
redis.call("SET", base .. "schema", "2")
return total
`;

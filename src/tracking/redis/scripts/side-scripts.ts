import { SHARED_LUA, SWEEP_PER_CALL } from "./keys-lua.js";

// The scripts of log lines, heartbeats and purge (keys in keys-lua.ts). Like the merge, each
// write is one call per batch, and removes up to ${SWEEP_PER_CALL} entries past the retention on the way.

/**
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] now (epoch ms); ARGV[3] retention ms (0 = keep);
 * ARGV[4]  grace ms (see record-script.ts); ARGV[5] lines kept per task
 * ARGV[6…] lines of 5 values: task id, at (epoch ms), attempt, level, message
 * Returns the number of lines appended.
 *
 * A line's member starts with a sequence number from `logseq`, so lines of the same
 * millisecond keep their insertion order, as the SQL store's `seq` column does.
 */
export const APPEND_LOGS_LUA = `${SHARED_LUA}
local now, retention, grace, cap = num(ARGV[2]), num(ARGV[3]), num(ARGV[4]), num(ARGV[5])
local count = (#ARGV - 5) / 5
local seq = redis.call("INCRBY", base .. "logseq", count) - count
-- Grouped by task: one ZADD per task and call, however many lines it wrote.
local tasks, order = {}, {}
for p = 6, #ARGV, 5 do
  local id, at = ARGV[p], ARGV[p + 1]
  seq = seq + 1
  local t = tasks[id]
  if not t then
    t = { members = {}, oldest = num(at), newest = num(at) }
    tasks[id] = t
    order[#order + 1] = id
  end
  local members = t.members
  members[#members + 1] = at
  members[#members + 1] = string.format("%012x", seq) .. "|" .. ARGV[p + 2] .. "|" .. ARGV[p + 3] .. "|" .. ARGV[p + 4]
  local n = num(at)
  if n < t.oldest then t.oldest = n end
  if n > t.newest then t.newest = n end
end
for _, id in ipairs(order) do
  local t = tasks[id]
  local key = base .. "log:" .. id
  for k = 1, #t.members, 4000 do
    redis.call("ZADD", key, unpack(t.members, k, math.min(k + 3999, #t.members)))
  end
  local size = redis.call("ZCARD", key)
  local fresh = size == #t.members / 2
  if size > cap then
    -- Over the cap: the oldest lines go, and the task's oldest kept line is read back.
    redis.call("ZREMRANGEBYRANK", key, 0, size - cap - 1)
    local first = redis.call("ZRANGE", key, 0, 0, "WITHSCORES")
    redis.call("ZADD", base .. "logage", first[2], id)
  else
    -- LT: only ever moves the task's oldest-line time back (or adds it).
    redis.call("ZADD", base .. "logage", "LT", int(t.oldest), id)
  end
  if retention > 0 then
    -- A new key has no expiry (GT would never set one); an existing one only moves later.
    if fresh then
      redis.call("PEXPIREAT", key, int(t.newest + retention + grace))
    else
      redis.call("PEXPIREAT", key, int(t.newest + retention + grace), "GT")
    end
  end
end
if retention > 0 then remove_lines_before(now - retention, ${SWEEP_PER_CALL}) end
return count
`;

/**
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] now; ARGV[3] retention ms (0 = keep); ARGV[4] grace ms
 * ARGV[5…] heartbeats of 3 values: worker id, seen_at (epoch ms), JSON
 * A heartbeat older than the stored one (delayed in some writer's buffer) is ignored.
 */
export const HEARTBEAT_LUA = `${SHARED_LUA}
local now, retention, grace = num(ARGV[2]), num(ARGV[3]), num(ARGV[4])
for p = 5, #ARGV, 3 do
  local id, seen = ARGV[p], num(ARGV[p + 1])
  local current = redis.call("ZSCORE", base .. "workers", id)
  if not current or seen >= num(current) then
    local key = base .. "w:" .. id
    redis.call("SET", key, ARGV[p + 2])
    redis.call("ZADD", base .. "workers", ARGV[p + 1], id)
    if retention > 0 then redis.call("PEXPIREAT", key, int(seen + retention + grace)) end
  end
end
if retention > 0 then remove_workers_before(now - retention, ${SWEEP_PER_CALL}) end
return 0
`;

/**
 * KEYS[1]  the time index (routing)
 * ARGV[1]  key base; ARGV[2] cut-off (epoch ms); ARGV[3] most entries of each kind per call
 * Returns { tasks, log lines, workers removed, 1 when more may wait else 0 }; the caller calls
 * again until 0, so no single call holds Redis for long.
 */
export const PURGE_LUA = `${SHARED_LUA}
local cutoff, limit = num(ARGV[2]), num(ARGV[3])
local tasks, more_tasks = remove_tasks_before(cutoff, limit)
local lines, more_lines = remove_lines_before(cutoff, limit)
local workers, more_workers = remove_workers_before(cutoff, limit)
local _, more_minutes = remove_minutes_before(cutoff, limit)
local more = 0
if more_tasks or more_lines or more_workers or more_minutes then more = 1 end
return { tasks, lines, workers, more }
`;

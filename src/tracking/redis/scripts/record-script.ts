import { statusRank } from "../../../core/status.js";
import {
  ATTEMPT_FIELDS,
  CARRIED_FIELDS,
  DESCRIPTIVE_FIELDS,
  FIELDS,
  VERSION_FIELDS,
} from "../task-hash.js";
import { SHARED_LUA, SWEEP_PER_CALL } from "./keys-lua.js";

// The monotonic merge of a write batch with what is stored, as ONE script call: the batch's rows
// (already collapsed to one per task in JS with sql/merge.ts's mergeTaskValues) are merged with
// the stored hashes by the same rules as the SQL store's ON CONFLICT DO UPDATE (sql/merge.ts),
// and the indexes follow, atomically: no other writer can interleave, so writers in several
// processes converge without reading first, exactly like the SQL upsert.
//
// KEYS[1]  the time index ({<prefix>}:t:time): routes the call on Redis Cluster
// ARGV[1]  key base, "{<prefix>}:t:"
// ARGV[2]  now, epoch ms (the writer's clock): what the retention counts from
// ARGV[3]  retention in ms; 0 = keep until purged
// ARGV[4]  grace in ms: a hash's own Redis expiry comes this long after its retention ends, so
//          the sweep below (which needs the hash to find its index entries) normally runs first
// ARGV[5…] rows of ${FIELDS.length + 1} values: the task id, then the fields in task-hash.ts FIELDS
//          order, "\\0" standing for NULL
// Returns the number of rows merged.
//
// Along the way it removes up to ${SWEEP_PER_CALL} tasks past their retention (bounded work per
// call), and a row whose merged age is already past the retention is not stored at all.

const luaList = (fields: readonly string[]) => `{${fields.map((f) => `"${f}"`).join(", ")}}`;
const position = (field: string) => FIELDS.indexOf(field as (typeof FIELDS)[number]) + 1;
const positions = (fields: readonly string[]) => `{${fields.map(position).join(", ")}}`;

export const RECORD_LUA = `${SHARED_LUA}
local now = num(ARGV[2])
local retention = num(ARGV[3])
local grace = num(ARGV[4])
local NULL = "\\0"
local FIELDS = ${luaList(FIELDS)}
local NF = #FIELDS
local DESCRIPTIVE = ${positions(DESCRIPTIVE_FIELDS)}
local VERSION = ${positions(VERSION_FIELDS)}
local ATTEMPT = ${positions(ATTEMPT_FIELDS)}
local CARRIED = ${positions(CARRIED_FIELDS)}
local FK, Q, CA, ST, R, A, RA, E, SA, UA = ${["fk", "q", "ca", "st", "r", "a", "ra", "e", "sa", "ua"].map(position).join(", ")}
local FINAL_RANK = ${statusRank("SUCCESS")}

local function rank(status)
  if status == "PENDING" then return 0 elseif status == "STARTED" then return 1 end
  return FINAL_RANK
end

local function age_of(row)
  local age = num(row[UA])
  if row[RA] then
    local due = num(row[RA])
    if due > age then age = due end
  end
  return age
end

-- sql/merge.ts mergeTaskValues, field group by field group; s = stored, i = incoming.
local function merge(s, i)
  local o = {}
  local cmp = 0
  local sr, ir, sa, ia = num(s[R]), num(i[R]), num(s[A]), num(i[A])
  if ir ~= sr then cmp = (ir > sr) and 1 or -1
  elseif ia ~= sa then cmp = (ia > sa) and 1 or -1 end
  local wins
  if cmp ~= 0 then wins = cmp > 0
  else
    local ri, rs = rank(i[ST]), rank(s[ST])
    if ri ~= rs then wins = ri > rs else wins = rs < FINAL_RANK end
  end
  for _, f in ipairs(DESCRIPTIVE) do
    if s[f] ~= nil then o[f] = s[f] else o[f] = i[f] end
  end
  for _, f in ipairs(VERSION) do
    if wins then o[f] = i[f] else o[f] = s[f] end
  end
  for _, f in ipairs(ATTEMPT) do
    if cmp > 0 then o[f] = i[f]
    elseif cmp < 0 then o[f] = s[f]
    elseif wins then
      if i[f] ~= nil then o[f] = i[f] else o[f] = s[f] end
    else
      if s[f] ~= nil then o[f] = s[f] else o[f] = i[f] end
    end
  end
  local incoming_error
  if wins then incoming_error = i[E] ~= nil else incoming_error = s[E] == nil end
  for _, f in ipairs(CARRIED) do
    if incoming_error then o[f] = i[f] else o[f] = s[f] end
  end
  -- A row with created_at has sort_at = created_at (rows.ts, merge.ts keep that true).
  if s[CA] ~= nil then o[SA] = s[SA]
  elseif i[CA] ~= nil then o[SA] = i[SA]
  elseif num(i[SA]) < num(s[SA]) then o[SA] = i[SA]
  else o[SA] = s[SA] end
  if num(i[UA]) > num(s[UA]) then o[UA] = i[UA] else o[UA] = s[UA] end
  return o
end

local cutoff = nil
if retention > 0 then
  cutoff = now - retention
  remove_tasks_before(cutoff, ${SWEEP_PER_CALL})
end

local rows = 0
local p = 5
while p <= #ARGV do
  local id = ARGV[p]
  local incoming = {}
  for f = 1, NF do
    local v = ARGV[p + f]
    if v ~= NULL then incoming[f] = v end
  end
  p = p + NF + 1
  rows = rows + 1

  local key = base .. "task:" .. id
  local got = redis.call("HMGET", key, unpack(FIELDS))
  local exists = got[ST] ~= false
  local stored = {}
  if exists then
    for f = 1, NF do
      if got[f] then stored[f] = got[f] end
    end
  end
  local out = incoming
  if exists then out = merge(stored, incoming) end
  local age = age_of(out)

  if cutoff and age < cutoff then
    -- Already past the retention: what is stored goes, nothing new is kept.
    if exists then remove_task(id) end
  else
    local sets, dels = {}, {}
    for f = 1, NF do
      local v = out[f]
      if v ~= nil then
        if v ~= stored[f] then
          sets[#sets + 1] = FIELDS[f]
          sets[#sets + 1] = v
        end
      elseif stored[f] ~= nil then
        dels[#dels + 1] = FIELDS[f]
      end
    end
    if #sets > 0 then redis.call("HSET", key, unpack(sets)) end
    if #dels > 0 then redis.call("HDEL", key, unpack(dels)) end

    if not exists then
      index(id, out[SA], out[ST], out[FK], out[Q])
    elseif stored[SA] ~= out[SA] then
      unindex(id, stored[SA], stored[ST], stored[FK], stored[Q])
      index(id, out[SA], out[ST], out[FK], out[Q])
    else
      local m = out[SA] .. ":" .. id
      if stored[ST] ~= out[ST] then
        redis.call("ZREM", base .. "st:" .. stored[ST], m)
        redis.call("ZADD", base .. "st:" .. out[ST], 0, m)
      end
      -- Descriptive: only ever filled in, never changed.
      if stored[FK] == nil and out[FK] ~= nil then redis.call("ZADD", base .. "fn:" .. out[FK], 0, m) end
      if stored[Q] == nil and out[Q] ~= nil then redis.call("ZADD", base .. "q:" .. out[Q], 0, m) end
    end

    if not exists or age ~= age_of(stored) then
      redis.call("ZADD", base .. "age", int(age), id)
      if retention > 0 then redis.call("PEXPIREAT", key, int(age + retention + grace)) end
    end
  end
end
return rows
`;

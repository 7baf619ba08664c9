import { statusRank } from "../../../core/status.js";
import {
  ATTEMPT_FIELDS,
  CARRIED_FIELDS,
  DESCRIPTIVE_FIELDS,
  FIELD_CODE_BASE,
  FIELDS,
  VERSION_FIELDS,
} from "../task-hash.js";
import {
  SHARED_LUA,
  SWEEP_PER_CALL,
  TASK_SWEEP_PER_CALL,
  THROUGHPUT_MINUTE_MS,
} from "./keys-lua.js";

// The monotonic merge of a write batch with what is stored, as one script call per 1,000 tasks
// (redis-tracking-store.ts ROWS_PER_CALL): the batch's rows (already collapsed to one per task
// in JS by sql/merge.ts's rules, row-encoding.ts) are merged with the stored hashes by the same
// rules as the SQL store's ON CONFLICT DO UPDATE (sql/merge.ts), and the indexes follow,
// atomically: no other writer can interleave, so writers in several processes converge without
// reading first, exactly like the SQL upsert.
//
// KEYS[1]  the time index ({<prefix>}:t:time): routes the call on Redis Cluster
// ARGV[1]  key base, "{<prefix>}:t:"
// ARGV[2]  now, epoch ms (the writer's clock): what the retention counts from
// ARGV[3]  retention in ms; 0 = keep until purged
// ARGV[4]  grace in ms: a throughput counter's own Redis expiry comes this long after its
//          retention ends (task hashes have none: the sweep below removes them with their
//          index entries)
// ARGV[5]  the rows, as one string of values separated by NUL (no stored text holds one,
//          rows.ts): per row the task id, the codes of the fields it carries (one letter per
//          field, row-encoding.ts), then those fields' values; a field not carried is
//          NULL. One argument instead of ~15 per row: each argument costs the client an encoding
//          and Redis a parse and a Lua string, and splitting here is cheaper than both.
// Returns the number of rows merged.
//
// Along the way it removes up to ${TASK_SWEEP_PER_CALL} tasks past their retention (as many as a
// call may add, so the sweep keeps pace with the writes; bounded work per call), and a row
// whose merged age is already past the retention is not stored at all.

const luaList = (fields: readonly string[]) => `{${fields.map((f) => `"${f}"`).join(", ")}}`;
const position = (field: string) => FIELDS.indexOf(field as (typeof FIELDS)[number]) + 1;
const positions = (fields: readonly string[]) => `{${fields.map(position).join(", ")}}`;

export const RECORD_LUA = `${SHARED_LUA}
local now = num(ARGV[2])
local retention = num(ARGV[3])
local grace = num(ARGV[4])
local FIELDS = ${luaList(FIELDS)}
local READ = FIELDS
local CODE_BASE = ${FIELD_CODE_BASE}
local ATTEMPT = ${positions(ATTEMPT_FIELDS)}
-- What each field position belongs to: 1 descriptive, 2 version, 3 attempt, 4 carried, 5 other.
local GROUP = {}
for _, f in ipairs(${positions(DESCRIPTIVE_FIELDS)}) do GROUP[f] = 1 end
for _, f in ipairs(${positions(VERSION_FIELDS)}) do GROUP[f] = 2 end
for _, f in ipairs(ATTEMPT) do GROUP[f] = 3 end
for _, f in ipairs(${positions(CARRIED_FIELDS)}) do GROUP[f] = 4 end
local FK, FL, Q, CA, ST, R, A, RA, CD, E, SA, UA = ${["fk", "fl", "q", "ca", "st", "r", "a", "ra", "cd", "e", "sa", "ua"].map(position).join(", ")}
local FINAL_RANK = ${statusRank("SUCCESS")}

local function rank(status)
  if status == "PENDING" then return 0 elseif status == "STARTED" then return 1 end
  return FINAL_RANK
end

-- Index changes of the whole batch, applied at the end with one command per index key: one
-- ZADD of 1,000 members costs far less than 1,000 ZADDs from Lua.
local additions, removals = {}, {}
-- Index key names, built once per call instead of once per row (a Lua concatenation allocates
-- and hashes a new string every time).
local K_TIME, K_UPD, K_TASK = base .. "time", base .. "upd", base .. "task:"
local key_names = { ["st:"] = {}, ["fn:"] = {}, ["q:"] = {} }
local function index_key(kind, name)
  local names = key_names[kind]
  local key = names[name]
  if not key then
    key = base .. kind .. name
    names[name] = key
  end
  return key
end
local function later_add(key, score, member)
  local list = additions[key]
  if not list then
    list = {}
    additions[key] = list
  end
  list[#list + 1] = score
  list[#list + 1] = member
end
local function later_remove(key, member)
  local list = removals[key]
  if not list then
    list = {}
    removals[key] = list
  end
  list[#list + 1] = member
end
-- Throughput counter changes of the batch: minute → field → delta, applied at the end with one
-- HINCRBY per (minute, queue, outcome) however many tasks share it.
local counts = {}
local MINUTE = ${THROUGHPUT_MINUTE_MS}
-- What a task state adds to the counters: its minute (a number: formatted once per minute, at
-- the end) and field (built once per queue and outcome), or nil when it adds nothing (the SQL
-- store's throughput: status SUCCESS or FAILURE, completed_at and queue known).
local field_names = { SUCCESS = {}, FAILURE = {} }
local function counted(st, cd, q)
  if not cd or not q then return nil end
  local names = field_names[st]
  if not names then return nil end
  local field = names[q]
  if not field then
    field = (st == "SUCCESS" and "s" or "f") .. q
    names[q] = field
  end
  local t = num(cd)
  return t - t % MINUTE, field
end
local function count(minute, field, delta)
  local fields = counts[minute]
  if not fields then
    fields = {}
    counts[minute] = fields
  end
  fields[field] = (fields[field] or 0) + delta
end
-- The counters follow the task's state: when the state's contribution changed (the task
-- finished, learnt its queue or completed time, or a requeue started a new run), the old one is
-- taken back and the new one added, so they always equal a count over the current records.
local function recount(old_st, old_cd, old_q, new_st, new_cd, new_q)
  local om, of = counted(old_st, old_cd, old_q)
  local nm, nf = counted(new_st, new_cd, new_q)
  if om == nm and of == nf then return end
  if om then count(om, of, -1) end
  if nm then count(nm, nf, 1) end
end

-- unpack() passes at most a few thousand values on Lua's C stack: even-sized slices.
local function in_slices(command, key, args)
  for k = 1, #args, 4000 do
    redis.call(command, key, unpack(args, k, math.min(k + 3999, #args)))
  end
end

local cutoff = nil
if retention > 0 then
  cutoff = now - retention
  remove_tasks_before(cutoff, ${TASK_SWEEP_PER_CALL})
  remove_minutes_before(cutoff, ${SWEEP_PER_CALL})
end

-- The rows, split in C: struct.unpack's "s" reads a value up to its NUL, so with a NUL after
-- the last value too, one call takes a row's id and field codes and one more all its values.
-- (Splitting with string.find and string.sub, a Lua call or two per value, cost 1.5–2 µs more
-- per row.)
local data = ARGV[5] .. "\0"
local size = #data - 1
local pos = 1
-- "ss…s" with n letters: the format of a row's n values, built once per n.
local FORMATS = {}
local function format_of(n)
  local f = FORMATS[n]
  if not f then
    f = string.rep("s", n)
    FORMATS[n] = f
  end
  return f
end

local rows = 0
-- inc (field position → incoming value), sets (HSET's arguments) and dels (HDEL's) are reused
-- from row to row: a fresh table per row costs an allocation and several rehashes as it grows.
local inc, codes, sets, nsets, dels = {}, {}, {}, 0, {}
-- What a new task has stored: nothing.
local NONE = {}
local function set(field, value)
  sets[nsets + 1] = field
  sets[nsets + 2] = value
  nsets = nsets + 2
end
while pos <= size do
  for k = 1, #codes do inc[codes[k]] = nil end
  local id, code_text
  id, code_text, pos = struct.unpack("ss", data, pos)
  codes = { string.byte(code_text, 1, -1) }
  nsets = 0
  local n = #codes
  local vals = { struct.unpack(format_of(n), data, pos) }
  pos = vals[n + 1]
  for k = 1, n do
    local f = codes[k] - CODE_BASE
    codes[k] = f
    inc[f] = vals[k]
  end
  rows = rows + 1

  local key = K_TASK .. id
  -- A submission (PENDING of a first attempt) is nearly always a new task: a one-field probe
  -- first, since HMGET of every field costs several times more and a new task needs none. Any
  -- other row nearly always follows a stored one: straight to the HMGET.
  local got = NONE
  if inc[ST] == "PENDING" and not inc[R] and not inc[A] then
    if redis.call("EXISTS", key) == 1 then got = redis.call("HMGET", key, unpack(READ)) end
  else
    got = redis.call("HMGET", key, unpack(READ))
  end
  local old_st = got[ST]
  local ndels = 0
  local o_st, o_sa, o_ua, o_ra, o_fk, o_q, o_cd

  if not old_st then
    -- A new task: the row as it came (sql/merge.ts's merge with nothing stored).
    for k = 1, n do
      sets[2 * k - 1] = FIELDS[codes[k]]
      sets[2 * k] = vals[k]
    end
    nsets = 2 * n
    o_st, o_sa, o_ua, o_ra, o_fk, o_q = inc[ST], inc[SA], inc[UA], inc[RA], inc[FK], inc[Q]
    o_cd = inc[CD]
  else
    -- sql/merge.ts mergeTaskValues, written as the changes to apply to the stored hash.
    local cmp = 0
    local sr, ir = num(got[R] or "0"), num(inc[R] or "0")
    local sa, ia = num(got[A] or "0"), num(inc[A] or "0")
    if ir ~= sr then cmp = (ir > sr) and 1 or -1
    elseif ia ~= sa then cmp = (ia > sa) and 1 or -1 end
    local wins
    if cmp ~= 0 then wins = cmp > 0
    else
      local ri, rs = rank(inc[ST]), rank(old_st)
      if ri ~= rs then wins = ri > rs else wins = rs < FINAL_RANK end
    end
    local incoming_error = inc[E] ~= nil and (wins or not got[E])
    o_cd = got[CD] or nil
    for k = 1, #codes do
      local f = codes[k]
      local g = GROUP[f]
      local take
      -- fl follows fk: absent means "same as fk", so it is taken exactly when fk is.
      if f == FL then take = not got[FK]
      elseif g == 1 then take = not got[f]
      elseif g == 2 then take = wins
      elseif g == 3 then take = cmp > 0 or (cmp == 0 and (wins or not got[f]))
      elseif g == 4 then take = incoming_error
      else take = false end
      if take and inc[f] ~= got[f] then
        set(FIELDS[f], inc[f])
        if f == CD then o_cd = inc[f] end
      end
    end
    if wins then
      -- Version fields absent from the row are 0 (r, a): clear what the stored one had.
      if not inc[R] and got[R] then ndels = ndels + 1; dels[ndels] = "r" end
      if not inc[A] and got[A] then ndels = ndels + 1; dels[ndels] = "a" end
    end
    if cmp > 0 then
      -- A newer attempt or run: the previous attempt's facts go, even those it does not carry.
      for _, f in ipairs(ATTEMPT) do
        if got[f] and not inc[f] then
          ndels = ndels + 1
          dels[ndels] = FIELDS[f]
          if f == CD then o_cd = nil end
        end
      end
    end
    o_st = wins and inc[ST] or old_st
    -- A row with created_at has sort_at = created_at (rows.ts, merge.ts keep that true).
    o_sa = got[SA]
    if not got[CA] and (inc[CA] or num(inc[SA]) < num(got[SA])) then o_sa = inc[SA] end
    if o_sa ~= got[SA] then
      set("sa", o_sa)
    end
    o_ua = got[UA]
    if num(inc[UA]) > num(got[UA]) then
      o_ua = inc[UA]
      set("ua", o_ua)
    end
    o_ra = got[RA] or nil
    if cmp > 0 then o_ra = inc[RA]
    elseif cmp == 0 and inc[RA] and (wins or not got[RA]) then o_ra = inc[RA] end
    o_fk, o_q = got[FK] or inc[FK], got[Q] or inc[Q]
  end

  local age = num(o_ua)
  if o_ra then
    local due = num(o_ra)
    if due > age then age = due end
  end
  if cutoff and age < cutoff then
    -- Already past the retention: what is stored goes, nothing new is kept.
    if old_st then
      remove_task(id)
      recount(old_st, got[CD], got[Q], nil, nil, nil)
    end
  else
    -- Only a finished task counts (counted()): most rows touch no counter at all.
    if field_names[old_st] or field_names[o_st] then
      recount(old_st, got[CD], got[Q], o_st, o_cd, o_q)
    end
    -- The update index: an update in place when the latest event time moved.
    if not old_st or o_ua ~= got[UA] then later_add(K_UPD, o_ua, id) end
    if nsets > 0 then redis.call("HSET", key, unpack(sets, 1, nsets)) end
    if ndels > 0 then redis.call("HDEL", key, unpack(dels, 1, ndels)) end

    -- The filter indexes (member id, score sort_at): a changed sort_at is an update in place
    -- of each; only a changed status moves the task between keys.
    local moved = old_st and got[SA] ~= o_sa
    if not old_st or moved or old_st ~= o_st then
      if old_st and old_st ~= o_st then later_remove(index_key("st:", old_st), id) end
      later_add(index_key("st:", o_st), o_sa, id)
    end
    if not old_st or moved then later_add(K_TIME, o_sa, id) end
    -- Descriptive: only ever filled in, never changed.
    if o_fk and (moved or not got[FK]) then later_add(index_key("fn:", o_fk), o_sa, id) end
    if o_q and (moved or not got[Q]) then later_add(index_key("q:", o_q), o_sa, id) end
  end
end

-- Removals first: a task that changed status moved between keys, never within one.
for key, members in pairs(removals) do in_slices("ZREM", key, members) end
for key, pairs_ in pairs(additions) do in_slices("ZADD", key, pairs_) end
for start, fields in pairs(counts) do
  local minute = int(start)
  local key = base .. "tp:" .. minute
  local added = false
  for field, delta in pairs(fields) do
    if delta ~= 0 then
      redis.call("HINCRBY", key, field, delta)
      if delta > 0 then added = true end
    end
  end
  if added then
    redis.call("ZADD", base .. "tpm", minute, minute)
    -- The same expiry from every writer with the same retention (a new key has none: no GT).
    if retention > 0 then redis.call("PEXPIREAT", key, int(start + MINUTE + retention + grace)) end
  end
end
return rows
`;

import { SHARED_LUA } from "./keys-lua.js";

// One page of list(), filtered server-side: the script walks one index newest first and checks
// each candidate's hash against the remaining filters, so a page costs one round trip whatever
// the filters.
//
// Which index: the time index, the function key's, the queue's, or the union of the wanted
// statuses' (merged newest first), whichever holds the fewest entries in the time range
// (ZLEXCOUNT, O(log n) each). Every other filter, the text search among them, is a check per
// candidate: HMGET of a few fields plus a substring search. Redis 7.0 without RediSearch has no
// substring index, so a text search is a scan; the scan budget bounds each call's work, and a
// call that spends it answers with the matches found so far (maybe none) and a cursor that
// continues the scan where it stopped.
//
// KEYS[1]  the time index (routes the call on Redis Cluster)
// ARGV[1]  key base, "{<prefix>}:t:"
// ARGV[2]  retention cut-off, epoch ms: tasks aged before it are skipped (0 = none)
// ARGV[3]  limit (1–500)
// ARGV[4]  scan budget: index entries examined at most
// ARGV[5]  upper bound, exclusive or open: "(<member>" (cursor or until) or "+"
// ARGV[6]  lower bound: "[<padded since>" or "-"
// ARGV[7]  function key, or "\\0" for any
// ARGV[8]  queue, or "\\0" for any
// ARGV[9]  lowercased search text, or "\\0" for none
// ARGV[10…] the wanted statuses (none = any)
// Returns { cursor or "", id, HGETALL of id, id, HGETALL of id, … } with up to limit tasks.

export const LIST_LUA = `${SHARED_LUA}
local NULL = "\\0"
local cutoff = num(ARGV[2])
local limit = num(ARGV[3])
local budget = num(ARGV[4])
local upper, lower = ARGV[5], ARGV[6]
local fk, queue, text = ARGV[7], ARGV[8], ARGV[9]
if fk == NULL then fk = nil end
if queue == NULL then queue = nil end
if text == NULL then text = nil end
local wanted, statuses = nil, {}
for k = 10, #ARGV do
  wanted = wanted or {}
  wanted[ARGV[k]] = true
  statuses[#statuses + 1] = base .. "st:" .. ARGV[k]
end

local source, smallest = nil, nil
local function consider(keys)
  local count = 0
  for _, key in ipairs(keys) do count = count + redis.call("ZLEXCOUNT", key, lower, upper) end
  if smallest == nil or count < smallest then source, smallest = keys, count end
end
consider({ base .. "time" })
if fk then consider({ base .. "fn:" .. fk }) end
if queue then consider({ base .. "q:" .. queue }) end
if wanted then consider(statuses) end

-- Byte order (memcmp), as Redis orders the members: Lua's < uses the C locale's strcoll.
local function after(a, b)
  if a == b then return false end
  for k = 1, math.min(#a, #b) do
    local x, y = string.byte(a, k), string.byte(b, k)
    if x ~= y then return x > y end
  end
  return #a > #b
end

local CHUNK = math.min(math.max(limit + 1, 64), budget)
local walkers = {}
for k, key in ipairs(source) do walkers[k] = { key = key, upper = upper, buf = {}, pos = 1, done = false } end

local function head(w)
  if w.pos > #w.buf then
    if w.done then return nil end
    w.buf = redis.call("ZRANGE", w.key, w.upper, lower, "BYLEX", "REV", "LIMIT", 0, CHUNK)
    w.pos = 1
    if #w.buf < CHUNK then w.done = true end
    if #w.buf == 0 then return nil end
    w.upper = "(" .. w.buf[#w.buf]
  end
  return w.buf[w.pos]
end

local function next_member()
  local best, member = nil, nil
  for _, w in ipairs(walkers) do
    local m = head(w)
    if m and (member == nil or after(m, member)) then best, member = w, m end
  end
  if best then best.pos = best.pos + 1 end
  return member, best
end

local matches, scanned, last, exhausted = {}, 0, nil, false
while #matches <= limit do
  if scanned >= budget then break end
  local member, walker = next_member()
  if member == nil then
    exhausted = true
    break
  end
  scanned = scanned + 1
  last = member
  local id = string.sub(member, SORT_DIGITS + 2)
  local f = redis.call("HMGET", base .. "task:" .. id, "st", "fk", "q", "ua", "ra", "fl", "es")
  local status = f[1]
  if not status then
    -- The hash expired on its own (retention): its index entry goes now.
    redis.call("ZREM", walker.key, member)
  else
    local ok = true
    if wanted and not wanted[status] then ok = false
    elseif fk and f[2] ~= fk then ok = false
    elseif queue and f[3] ~= queue then ok = false
    elseif cutoff > 0 then
      local age = num(f[4])
      if f[5] and num(f[5]) > age then age = num(f[5]) end
      if age < cutoff then ok = false end
    end
    if ok and text then
      local errors = ""
      if status ~= "SUCCESS" and f[7] then errors = f[7] end
      -- fl is stored only when the function key is not already lowercase (task-hash.ts).
      local haystack = string.lower(id) .. "\\n" .. (f[6] or f[2] or "") .. "\\n" .. errors
      ok = string.find(haystack, text, 1, true) ~= nil
    end
    if ok then matches[#matches + 1] = member end
  end
end

local cursor = ""
if #matches > limit then cursor = matches[limit]
elseif not exhausted and last then cursor = last end
local out = { cursor }
for k = 1, math.min(#matches, limit) do
  local id = string.sub(matches[k], SORT_DIGITS + 2)
  out[#out + 1] = id
  out[#out + 1] = redis.call("HGETALL", base .. "task:" .. id)
end
return out
`;

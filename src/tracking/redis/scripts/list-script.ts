import { SHARED_LUA } from "./keys-lua.js";

// One page of list(), filtered server-side: the script walks one index newest first and checks
// each candidate's hash against the remaining filters, so a page costs one round trip whatever
// the filters.
//
// Which index: the time index, the function key's, the queue's, or the union of the wanted
// statuses' (merged newest first), whichever holds the fewest entries in the time range
// (ZCOUNT, O(log n) each). Every other filter, the text search among them, is a check per
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
// ARGV[5]  upper bound, exclusive: a sort_at, or "" for none
// ARGV[6]  with ARGV[5], the id of a cursor position (sort_at, id); "" = below that sort_at
// ARGV[7]  lower bound, inclusive: a sort_at, or "-inf"
// ARGV[8]  function key, or "\\0" for any
// ARGV[9]  queue, or "\\0" for any
// ARGV[10] lowercased search text, or "\\0" for none
// ARGV[11] metadata pair as stored JSON text ("key":"value"), or "\\0" for any
// ARGV[12…] the wanted statuses (none = any)
// Returns { cursor position "<sort_at>:<id>" or "", id, HGETALL of id, id, HGETALL of id, … }
// with up to limit tasks.

export const LIST_LUA = `${SHARED_LUA}
local NULL = "\\0"
local cutoff = num(ARGV[2])
local limit = num(ARGV[3])
local budget = num(ARGV[4])
local upper, upper_id, lower = ARGV[5], ARGV[6], ARGV[7]
local fk, queue, text, pair = ARGV[8], ARGV[9], ARGV[10], ARGV[11]
if fk == NULL then fk = nil end
if pair == NULL then pair = nil end
if queue == NULL then queue = nil end
if text == NULL then text = nil end
local wanted, statuses = nil, {}
for k = 12, #ARGV do
  wanted = wanted or {}
  wanted[ARGV[k]] = true
  statuses[#statuses + 1] = base .. "st:" .. ARGV[k]
end

local source, smallest = nil, nil
local function consider(keys)
  local count = 0
  for _, key in ipairs(keys) do
    count = count + redis.call("ZCOUNT", key, lower, upper == "" and "+inf" or upper)
  end
  if smallest == nil or count < smallest then source, smallest = keys, count end
end
consider({ base .. "time" })
if fk then consider({ base .. "fn:" .. fk }) end
if queue then consider({ base .. "q:" .. queue }) end
if wanted then consider(statuses) end

-- One walker per source key, newest first by rank from just below the upper bound, a chunk at
-- a time. Entries found stale are removed only at the end: a ZREM now would shift the ranks.
local CHUNK = math.min(math.max(limit + 1, 64), budget)
local low = lower == "-inf" and nil or num(lower)
local walkers = {}
for k, key in ipairs(source) do
  local rank = 0
  if upper ~= "" then rank = count_after(key, upper, upper_id) end
  walkers[k] = { key = key, rank = rank, buf = {}, pos = 1, done = false }
end

-- The walker's next (id, score), reading the next chunk when its buffer is used up.
local function head(w)
  if w.pos > #w.buf then
    if w.done then return nil end
    w.buf = redis.call("ZRANGE", w.key, w.rank, w.rank + CHUNK - 1, "REV", "WITHSCORES")
    w.rank = w.rank + CHUNK
    w.pos = 1
    if #w.buf < CHUNK * 2 then w.done = true end
    if #w.buf == 0 then return nil end
  end
  local score = num(w.buf[w.pos + 1])
  if low and score < low then
    w.done, w.buf = true, {}
    return nil
  end
  return w.buf[w.pos], score
end

-- The newest head among the walkers (several only for a union of statuses).
local function next_entry()
  local best, id, score = nil, nil, nil
  for _, w in ipairs(walkers) do
    local i, sc = head(w)
    if i and (id == nil or sc > score or (sc == score and bytes_after(i, id))) then
      best, id, score = w, i, sc
    end
  end
  if best then best.pos = best.pos + 2 end
  return id, score, best
end

local matches, scanned, last, exhausted, stale = {}, 0, nil, false, {}
while #matches <= limit do
  if scanned >= budget then break end
  local id, score, walker = next_entry()
  if id == nil then
    exhausted = true
    break
  end
  scanned = scanned + 1
  local position = pad(score) .. ":" .. id
  last = position
  local f = redis.call("HMGET", base .. "task:" .. id, "st", "fk", "q", "ua", "ra", "fl", "es", "md")
  local status = f[1]
  if not status then
    -- The hash expired on its own (retention): its index entry goes (at the end).
    stale[#stale + 1] = walker.key
    stale[#stale + 1] = id
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
    if ok and pair then ok = f[8] ~= false and string.find(f[8], pair, 1, true) ~= nil end
    if ok then matches[#matches + 1] = { id, position } end
  end
end
for k = 1, #stale, 2 do redis.call("ZREM", stale[k], stale[k + 1]) end

local cursor = ""
if #matches > limit then cursor = matches[limit][2]
elseif not exhausted and last then cursor = last end
local out = { cursor }
for k = 1, math.min(#matches, limit) do
  local id = matches[k][1]
  out[#out + 1] = id
  out[#out + 1] = redis.call("HGETALL", base .. "task:" .. id)
end
return out
`;

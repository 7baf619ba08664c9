// The Lua scripts of the Redis broker. Every state change that touches more than one key (or
// must check a lease and change state in one step) is one script, so it is atomic: Redis runs a
// script to completion before serving anything else, and with AOF it is persisted as a whole.
// They live here as strings because tsc does not copy .lua files into dist/; they are registered
// with ioredis `defineCommand` (EVALSHA, falling back to EVAL after a server restart).
//
// Every script gets the 13 keys of ONE queue (keys.ts: KEYS[1..10] lanes of priority 0..9,
// KEYS[11] delayed, KEYS[12] dlq, KEYS[13] wake) and nothing else, so it stays in one Cluster
// slot. Times are the server's clock (TIME), so clients with skewed clocks agree on due times.
//
// Stream entry fields: i = task id, b = body, n = deliveries of earlier entries of the same
// message that ended unsettled (only after a release; absent = 0). The delivery count a consumer
// sees is n + the pending list's own delivery counter.
// Delayed member: "<priority>:<n>:<nonce>:<#id>:<id><body>" (the nonce keeps equal messages apart).

const PRELUDE = `
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function entry_fields(list)
  local id, body, prior = '', '', 0
  for i = 1, #list, 2 do
    local f = list[i]
    if f == 'i' then id = list[i + 1] elseif f == 'b' then body = list[i + 1]
    elseif f == 'n' then prior = tonumber(list[i + 1]) end
  end
  return id, body, prior
end
local function add_ready(lane, id, body, prior)
  if prior > 0 then return redis.call('XADD', lane, '*', 'i', id, 'b', body, 'n', prior) end
  return redis.call('XADD', lane, '*', 'i', id, 'b', body)
end
local function add_delayed(due, p, prior, nonce, id, body)
  redis.call('ZADD', KEYS[11], due, p .. ':' .. prior .. ':' .. nonce .. ':' .. #id .. ':' .. id .. body)
end
local function touch_wake()
  redis.call('XADD', KEYS[13], 'MAXLEN', '1', '*', 'w', '1')
end
`;

/**
 * publish: adds a batch of messages to one queue.
 * KEYS: the queue's 13 keys. ARGV[1]: nonce prefix unique to this call; then 4 per message:
 * priority (0-9), task id, body, delay ms (0 = ready now).
 * Returns the number of messages added.
 */
export const PUBLISH = `${PRELUDE}
local now, n, delayed = nil, 0, false
for i = 2, #ARGV, 4 do
  local p, delay = tonumber(ARGV[i]), tonumber(ARGV[i + 3])
  if delay > 0 then
    now = now or server_now()
    add_delayed(now + delay, p, 0, ARGV[1] .. n, ARGV[i + 1], ARGV[i + 2])
    delayed = true
  else
    add_ready(KEYS[p + 1], ARGV[i + 1], ARGV[i + 2], 0)
  end
  n = n + 1
end
if delayed then touch_wake() end
return n
`;

/**
 * take: hands up to `count` messages of one queue to one consumer, highest priority first.
 * KEYS: the queue's 13 keys. ARGV[1] group, ARGV[2] consumer, ARGV[3] count,
 * ARGV[4] reclaim min-idle ms (0 = do not reclaim on this call).
 * 1. Moves due delayed messages (at most 1000 per call) to their lanes.
 * 2. With ARGV[4] > 0: claims entries idle longer than that from any consumer (XAUTOCLAIM), the
 *    leases of dead or stuck consumers; this counts as a delivery.
 * 3. Reads new entries lane by lane, priority 9 down to 0 (XREADGROUP >), creating the group
 *    (from id 0, so messages published before any consumer existed are kept) when missing.
 * Returns {taken, watch, nextDue, now}: taken = 3 per lane read: the lane, the pending-list
 * delivery counts of its entries ({} = all 1, a first delivery) and its entries as XREADGROUP
 * returns them ({entry id, {field, value, …}}; passed through, not reshaped, to keep the script
 * cheap); watch = when fewer than count were taken, the 11 ids an XREAD on lanes 0..9 and wake
 * must start after to see new work, else {};
 * nextDue = due time of the earliest delayed message or -1; now = server time (ms).
 */
export const TAKE = `${PRELUDE}
local group, consumer, want, min_idle = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local now = server_now()
local due = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, 1000)
for _, m in ipairs(due) do
  local p, prior, idlen, at = string.match(m, '^(%d):(%d+):[^:]*:(%d+):()')
  local id = string.sub(m, at, at + tonumber(idlen) - 1)
  add_ready(KEYS[tonumber(p) + 1], id, string.sub(m, at + tonumber(idlen)), tonumber(prior))
  redis.call('ZREM', KEYS[11], m)
end
local out, taken = {}, 0
if min_idle > 0 then
  for p = 9, 0, -1 do
    if taken >= want then break end
    local r = redis.pcall('XAUTOCLAIM', KEYS[p + 1], group, consumer, min_idle, '0-0', 'COUNT', want - taken)
    if type(r) == 'table' and not r.err and #r[2] > 0 then
      local counts = {}
      for i, e in ipairs(r[2]) do
        counts[i] = redis.call('XPENDING', KEYS[p + 1], group, e[1], e[1], 1)[1][4]
      end
      out[#out + 1] = p; out[#out + 1] = counts; out[#out + 1] = r[2]
      taken = taken + #r[2]
    end
  end
end
for p = 9, 0, -1 do
  if taken >= want then break end
  local lane = KEYS[p + 1]
  local r = redis.pcall('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - taken, 'STREAMS', lane, '>')
  if type(r) == 'table' and r.err then
    redis.pcall('XGROUP', 'CREATE', lane, group, '0', 'MKSTREAM')
    r = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want - taken, 'STREAMS', lane, '>')
  end
  if r then
    out[#out + 1] = p; out[#out + 1] = {}; out[#out + 1] = r[1][2]
    taken = taken + #r[1][2]
  end
end
local watch = {}
if taken < want then
  for p = 0, 9 do
    local last = '0-0'
    local groups = redis.pcall('XINFO', 'GROUPS', KEYS[p + 1])
    if type(groups) == 'table' and not groups.err then
      for _, g in ipairs(groups) do
        local name, id
        for i = 1, #g, 2 do
          if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then id = g[i + 1] end
        end
        if name == group then last = id end
      end
    end
    watch[p + 1] = last
  end
  local w = redis.call('XREVRANGE', KEYS[13], '+', '-', 'COUNT', 1)
  watch[11] = (w[1] and w[1][1]) or '0-0'
end
local first = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
local next_due = -1
if first[2] then next_due = tonumber(first[2]) end
return {out, watch, next_due, now}
`;

/**
 * settle: applies a batch of settle operations of one consumer's deliveries of one queue, each
 * only if the consumer still holds the entry with the same pending-list delivery count (else the
 * lease was lost: another consumer claimed it, and the operation changes nothing).
 * KEYS: the queue's 13 keys. ARGV[1] group, ARGV[2] nonce prefix unique to this call,
 * ARGV[3] consumer, ARGV[4] L = number of lanes in the batch; then 3 per lane: lane, lowest and
 * highest entry id of the batch in it; then 6 per operation: kind, lane (0-9), entry id,
 * delivery count, a1, a2:
 *   ack "a"; retry "r" (a1 next body, a2 delay ms) = next attempt published, then acked;
 *   dead-letter "d" (a1 reason, a2 detail) = copied to the DLQ with reason and time, then acked;
 *   release "l" = re-added to its lane (keeping the count of earlier unsettled deliveries), then
 *   acked; extend "e" (a1 idle ms to set) = XCLAIM … IDLE … JUSTID, which keeps the entry with
 *   its consumer without counting a delivery.
 * "Acked" is XACK + XDEL (grouped per lane at the end): a stream holds only unacknowledged
 * messages, so it needs no trimming and never loses an unacknowledged entry to a trim.
 * Returns one integer per operation: 1 = done; 0 = lease lost (the entry is still in its lane,
 * pending with another consumer or with another delivery count); 2 = the entry is no longer in
 * its lane (settled already: every settle deletes it). Only operations whose held check failed
 * read the lane (XRANGE eid eid), so the common case costs nothing more. The caller tells 2 apart
 * from 0 only when resending a call whose reply was lost (settle-batcher.ts): there, 2 means the
 * first send was applied.
 */
export const SETTLE = `${PRELUDE}
local group, nonce, consumer = ARGV[1], ARGV[2], ARGV[3]
local first_op = 5 + 3 * tonumber(ARGV[4])
-- One XPENDING per lane (filtered to this consumer, over the range of the batch's ids) tells
-- which entries the consumer still holds and with which delivery count.
local held, acked = {}, {}
for i = 5, first_op - 1, 3 do
  local p = tonumber(ARGV[i])
  held[p], acked[p] = {}, {}
  local pe = redis.pcall('XPENDING', KEYS[p + 1], group, ARGV[i + 1], ARGV[i + 2], 100000, consumer)
  if type(pe) == 'table' and not pe.err then
    for _, e in ipairs(pe) do held[p][e[1]] = e[4] end
  end
end
local now, woke, results = nil, false, {}
for i = first_op, #ARGV, 6 do
  local kind, p, eid, count = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3])
  local lane = KEYS[p + 1]
  if held[p][eid] ~= count then
    -- An entry acked earlier in this call is still in its lane (XDEL runs at the end): 0.
    if #redis.call('XRANGE', lane, eid, eid) == 0 then
      results[#results + 1] = 2
    else
      results[#results + 1] = 0
    end
  else
    if kind == 'e' then
      redis.call('XCLAIM', lane, group, consumer, 0, eid, 'IDLE', ARGV[i + 4], 'JUSTID')
    else
      if kind ~= 'a' then
        local e = redis.call('XRANGE', lane, eid, eid)
        local id, body, prior = entry_fields(e[1] and e[1][2] or {})
        if kind == 'r' then
          local delay = tonumber(ARGV[i + 5])
          if delay > 0 then
            now = now or server_now()
            add_delayed(now + delay, p, 0, nonce .. i, id, ARGV[i + 4])
            woke = true
          else
            add_ready(lane, id, ARGV[i + 4], 0)
          end
        elseif kind == 'd' then
          now = now or server_now()
          redis.call('XADD', KEYS[12], '*', 'i', id, 'b', body, 'r', ARGV[i + 4], 'd', ARGV[i + 5], 't', now)
        elseif kind == 'l' then
          add_ready(lane, id, body, prior + count - 1)
        end
      end
      held[p][eid] = nil
      local list = acked[p]
      list[#list + 1] = eid
    end
    results[#results + 1] = 1
  end
end
for p, list in pairs(acked) do
  if #list > 0 then
    redis.call('XACK', KEYS[p + 1], group, unpack(list))
    redis.call('XDEL', KEYS[p + 1], unpack(list))
  end
end
if woke then touch_wake() end
return results
`;

/**
 * stats: counts of one queue. KEYS: the queue's 13 keys. ARGV[1] group.
 * Returns {ready, inFlight, delayed, deadLettered}. A stream holds exactly the unacknowledged
 * entries (ack deletes), so ready = length - pending; due delayed messages not yet moved to
 * their lane count as ready.
 */
export const STATS = `${PRELUDE}
local ready, in_flight = 0, 0
for p = 1, 10 do
  local len = redis.call('XLEN', KEYS[p])
  if len > 0 then
    local pending = 0
    local s = redis.pcall('XPENDING', KEYS[p], ARGV[1])
    if type(s) == 'table' and not s.err then pending = s[1] end
    in_flight = in_flight + pending
    ready = ready + len - pending
  end
end
local now = server_now()
local due = redis.call('ZCOUNT', KEYS[11], '-inf', now)
local later = redis.call('ZCOUNT', KEYS[11], '(' .. now, '+inf')
return {ready + due, in_flight, later, redis.call('XLEN', KEYS[12])}
`;

/**
 * requeue: moves dead letters back to the queue. KEYS: the queue's 13 keys. ARGV[1] nonce
 * prefix; then 5 per entry: DLQ entry id, priority, task id, body (rewritten), delay ms.
 * Each entry still in the DLQ is published (lane or delayed set) and deleted from the DLQ in the
 * same step; one already gone (requeued concurrently) is skipped.
 * Returns the DLQ entry ids moved.
 */
export const REQUEUE = `${PRELUDE}
local moved, now, delayed = {}, nil, false
for i = 2, #ARGV, 5 do
  local dlq_id, p, id, body, delay = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  if redis.call('XDEL', KEYS[12], dlq_id) == 1 then
    if delay > 0 then
      now = now or server_now()
      add_delayed(now + delay, p, 0, ARGV[1] .. i, id, body)
      delayed = true
    else
      add_ready(KEYS[p + 1], id, body, 0)
    end
    moved[#moved + 1] = dlq_id
  end
end
if delayed then touch_wake() end
return moved
`;

/**
 * prune: deletes consumers that hold nothing: the given one (a closed subscription) at once, the
 * others once idle longer than ARGV[2] ms (dead processes whose entries were reclaimed).
 * A consumer with pending entries is never deleted (that would drop its entries' leases).
 * KEYS: the queue's 13 keys (lanes used). ARGV[1] group, ARGV[2] idle ms, ARGV[3] consumer or ''.
 * Returns the number of consumers deleted.
 */
export const PRUNE = `
local deleted = 0
for p = 1, 10 do
  local cs = redis.pcall('XINFO', 'CONSUMERS', KEYS[p], ARGV[1])
  if type(cs) == 'table' and not cs.err then
    for _, c in ipairs(cs) do
      local name, pending, idle
      for i = 1, #c, 2 do
        if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1]
        elseif c[i] == 'idle' then idle = c[i + 1] end
      end
      if pending == 0 and (name == ARGV[3] or idle > tonumber(ARGV[2])) then
        redis.call('XGROUP', 'DELCONSUMER', KEYS[p], ARGV[1], name)
        deleted = deleted + 1
      end
    end
  end
end
return deleted
`;

export const SCRIPTS = {
  gtqPublish: PUBLISH,
  gtqTake: TAKE,
  gtqSettle: SETTLE,
  gtqStats: STATS,
  gtqRequeue: REQUEUE,
  gtqPrune: PRUNE,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

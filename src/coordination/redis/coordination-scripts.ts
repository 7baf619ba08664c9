// The Lua scripts of the Redis coordination store, one per operation that touches more than one
// key or reads and writes in one step, so each is atomic: Redis runs a script to completion
// before serving anything else. Times are the server's clock (TIME; PX/PEXPIRE count on it
// too), never the client's, so clients with skewed clocks agree on every expiry. They live here
// as strings because tsc does not copy .lua files into dist/.
//
// Key layout (keys.ts): entries are string keys `<entry prefix><key>` with PX; the entry index
// is two sorted sets over the caller's keys: `lex` (all scores 0, so ZRANGEBYLEX lists in byte
// order) and `exp` (score = expiry in server ms, so expired members are found without a scan).
// Every key of a deployment carries the same Cluster hash tag, so the keys a script builds from
// `<entry prefix>` (pruning, listing) live in the slot of the keys it was given.

const PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- The index keys expire a second after their latest entry, so a deployment that stops writing
-- leaves nothing behind.
local function index_add(lex, exp, member, expires, now)
  redis.call('ZADD', lex, 0, member)
  redis.call('ZADD', exp, expires, member)
  local last = tonumber(redis.call('ZRANGE', exp, -1, -1, 'WITHSCORES')[2])
  local keep = math.max(last, expires) - now + 1000
  redis.call('PEXPIRE', lex, keep)
  redis.call('PEXPIRE', exp, keep)
end
local function index_remove(lex, exp, member)
  redis.call('ZREM', lex, member)
  redis.call('ZREM', exp, member)
end
-- Drops up to max index members whose entry expired. TIME can run a millisecond ahead of the
-- clock PX was measured on, so a member is dropped only once its key is really gone.
local function prune(lex, exp, entry_prefix, now, max)
  local due = redis.call('ZRANGEBYSCORE', exp, '-inf', now, 'LIMIT', 0, max)
  for _, member in ipairs(due) do
    if redis.call('EXISTS', entry_prefix .. member) == 0 then index_remove(lex, exp, member) end
  end
end
`;

/** Index members each entry write prunes: more than it adds, so the index tracks live entries. */
const WRITE_PRUNE = 20;
/** Most index members one batch call prunes (4 per entry of a full batch). */
const BATCH_PRUNE_MAX = 4_000;

/**
 * claim: sets an absent entry.
 * KEYS[1] entry, KEYS[2] lex index, KEYS[3] exp index.
 * ARGV[1] value, ARGV[2] ttl ms, ARGV[3] the caller's key (index member), ARGV[4] entry prefix.
 * Returns {1} when set, else {0, the holder's value, its PTTL}.
 */
export const CLAIM = `${PRELUDE}
local now = now_ms()
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  index_add(KEYS[2], KEYS[3], ARGV[3], now + tonumber(ARGV[2]), now)
  prune(KEYS[2], KEYS[3], ARGV[4], now, ${WRITE_PRUNE})
  return {1}
end
return {0, redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
`;

/**
 * put: sets an entry whatever it held.
 * KEYS and ARGV as claim. Returns 1.
 */
export const PUT = `${PRELUDE}
local now = now_ms()
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
index_add(KEYS[2], KEYS[3], ARGV[3], now + tonumber(ARGV[2]), now)
prune(KEYS[2], KEYS[3], ARGV[4], now, ${WRITE_PRUNE})
return 1
`;

/**
 * read: an entry's value and remaining life in one step (a GET then a PTTL could straddle the
 * expiry). KEYS[1] entry. Returns {value, PTTL}, or nil when absent.
 */
export const READ = `
local value = redis.call('GET', KEYS[1])
if not value then return nil end
return {value, redis.call('PTTL', KEYS[1])}
`;

/**
 * replace: compare-and-set with a fresh TTL.
 * KEYS[1] entry, KEYS[2] lex index, KEYS[3] exp index.
 * ARGV[1] expected value, ARGV[2] new value, ARGV[3] ttl ms, ARGV[4] the caller's key,
 * ARGV[5] entry prefix. Returns 1 when replaced, 0 when the entry holds something else or
 * nothing.
 */
export const REPLACE = `${PRELUDE}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local now = now_ms()
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
index_add(KEYS[2], KEYS[3], ARGV[4], now + tonumber(ARGV[3]), now)
prune(KEYS[2], KEYS[3], ARGV[5], now, ${WRITE_PRUNE})
return 1
`;

/**
 * release: deletes an entry, with ARGV[2] = '1' only while it holds ARGV[3].
 * KEYS[1] entry, KEYS[2] lex index, KEYS[3] exp index. ARGV[1] the caller's key.
 * Returns 1 when an entry was deleted, else 0.
 */
export const RELEASE = `${PRELUDE}
if ARGV[2] == '1' and redis.call('GET', KEYS[1]) ~= ARGV[3] then return 0 end
local deleted = redis.call('DEL', KEYS[1])
index_remove(KEYS[2], KEYS[3], ARGV[1])
return deleted
`;

// The batch scripts: many entries in one call, each request atomic and seeing the ones before
// it (Redis runs the script alone). They index what they write as the single-key scripts do,
// but set the index keys' expiry once per call, and prune WRITE_PRUNE members per entry written
// (as many single writes would), up to BATCH_PRUNE_MAX per call so that one call stays short.
// All their entry keys are passed in KEYS (Cluster routing, and what scripts should touch).
const BATCH_PRELUDE = `${PRELUDE}
local function index_put(lex, exp, member, expires)
  redis.call('ZADD', lex, 0, member)
  redis.call('ZADD', exp, expires, member)
end
-- After a batch wrote entries (written of them): the index keys outlive the latest entry by a
-- second (as index_add), and up to WRITE_PRUNE members per entry written are pruned.
local function index_settle(lex, exp, entry_prefix, now, written)
  if written == 0 then return end
  local last = tonumber(redis.call('ZRANGE', exp, -1, -1, 'WITHSCORES')[2])
  local keep = last - now + 1000
  redis.call('PEXPIRE', lex, keep)
  redis.call('PEXPIRE', exp, keep)
  prune(lex, exp, entry_prefix, now, math.min(written * ${WRITE_PRUNE}, ${BATCH_PRUNE_MAX}))
end
`;

/**
 * claim_many: claim of each request in order.
 * KEYS[1] lex index, KEYS[2] exp index, KEYS[2 + i] the entry of request i.
 * ARGV[1] entry prefix, then per request i: ARGV[3i - 1] value, ARGV[3i] ttl ms,
 * ARGV[3i + 1] the caller's key (index member).
 * Returns one reply per request, in order: {1} when set, else {0, the holder's value, its PTTL}.
 */
export const CLAIM_MANY = `${BATCH_PRELUDE}
local now = now_ms()
local out, written = {}, 0
for i = 1, #KEYS - 2 do
  local key, value, ttl, member = KEYS[i + 2], ARGV[3 * i - 1], ARGV[3 * i], ARGV[3 * i + 1]
  if redis.call('SET', key, value, 'NX', 'PX', ttl) then
    index_put(KEYS[1], KEYS[2], member, now + tonumber(ttl))
    written = written + 1
    out[i] = {1}
  else
    out[i] = {0, redis.call('GET', key), redis.call('PTTL', key)}
  end
end
index_settle(KEYS[1], KEYS[2], ARGV[1], now, written)
return out
`;

/**
 * replace_many: replace of each request in order.
 * KEYS[1] lex index, KEYS[2] exp index, KEYS[2 + i] the entry of request i.
 * ARGV[1] entry prefix, then per request i: ARGV[4i - 2] expected value, ARGV[4i - 1] new
 * value, ARGV[4i] ttl ms, ARGV[4i + 1] the caller's key.
 * Returns one integer per request, in order: 1 when replaced, else 0.
 */
export const REPLACE_MANY = `${BATCH_PRELUDE}
local now = now_ms()
local out, written = {}, 0
for i = 1, #KEYS - 2 do
  local key = KEYS[i + 2]
  if redis.call('GET', key) == ARGV[4 * i - 2] then
    local ttl = ARGV[4 * i]
    redis.call('SET', key, ARGV[4 * i - 1], 'PX', ttl)
    index_put(KEYS[1], KEYS[2], ARGV[4 * i + 1], now + tonumber(ttl))
    written = written + 1
    out[i] = 1
  else
    out[i] = 0
  end
end
index_settle(KEYS[1], KEYS[2], ARGV[1], now, written)
return out
`;

/**
 * list: live entries in byte order of the caller's keys, from a ZRANGEBYLEX bound.
 * KEYS[1] lex index, KEYS[2] exp index.
 * ARGV[1] entry prefix, ARGV[2] min bound ("[a", "(a" or "-"), ARGV[3] max bound ("(a\\xff" or
 * "+"), ARGV[4] how many live entries to return at most, ARGV[5] value bytes after which the
 * page ends early (a page of large values stays a bounded reply).
 * Prunes up to 1000 expired members first; an index member whose entry is gone anyway is dropped
 * when met, so the work is the entries returned plus the stale members removed.
 * Returns {cut, key, value, PTTL, key, value, PTTL, …}; cut = 1 when the byte budget ended the
 * page (more entries may follow), else 0.
 */
export const LIST = `${PRELUDE}
local now = now_ms()
prune(KEYS[1], KEYS[2], ARGV[1], now, 1000)
local want, budget = tonumber(ARGV[4]), tonumber(ARGV[5])
local out, found, bytes, min = {0}, 0, 0, ARGV[2]
while found < want do
  local members = redis.call('ZRANGEBYLEX', KEYS[1], min, ARGV[3], 'LIMIT', 0, want - found)
  if #members == 0 then break end
  for _, member in ipairs(members) do
    local key = ARGV[1] .. member
    local value = redis.call('GET', key)
    if value then
      out[#out + 1] = member
      out[#out + 1] = value
      out[#out + 1] = redis.call('PTTL', key)
      found = found + 1
      bytes = bytes + #value
      if bytes >= budget then
        out[1] = 1
        return out
      end
    else
      index_remove(KEYS[1], KEYS[2], member)
    end
  end
  min = '(' .. members[#members]
end
return out
`;

/**
 * take_tokens: a token bucket as a hash {s = tokens × interval ms, u = server ms it was
 * computed at}. Scaled by the interval, the arithmetic is integer (a bucket gains `limit` units
 * per ms and holds at most limit × interval), so exactly one token never reads as 0.9999; the
 * memory and SQLite stores compute the same way (coordination/token-bucket.ts). Every take,
 * refused or not, stores the refilled state and PEXPIRE one interval: untouched that long, the
 * bucket would be full, which is what an absent bucket is.
 * KEYS[1] bucket. ARGV[1] limit, ARGV[2] interval ms, ARGV[3] tokens to take.
 * Returns {1, whole tokens left} or {0, ms until enough tokens are there}.
 */
export const TAKE_TOKENS = `${PRELUDE}
local limit, interval, count = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local full = limit * interval
local state = redis.call('HMGET', KEYS[1], 's', 'u')
local scaled = full
if state[1] and state[2] then
  -- max(0, …): the server's clock may step back.
  local elapsed = math.max(0, now - tonumber(state[2]))
  if elapsed < interval then scaled = math.min(full, tonumber(state[1]) + elapsed * limit) end
end
local wanted = count * interval
local taken = scaled >= wanted
if taken then scaled = scaled - wanted end
redis.call('HSET', KEYS[1], 's', string.format('%.0f', scaled), 'u', string.format('%.0f', now))
redis.call('PEXPIRE', KEYS[1], interval)
if taken then return {1, math.floor(scaled / interval)} end
return {0, math.ceil((wanted - scaled) / limit)}
`;

// A semaphore is a sorted set of holder → lease expiry (server ms). Expired holders are removed
// before anything is counted; the key itself expires with its last lease.
const SEMAPHORE_PRELUDE = `${PRELUDE}
local function live_holders(key, now)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
local function expire_with_last_lease(key, now)
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIRE', key, math.max(1, tonumber(last[2]) - now)) end
end
`;

/**
 * acquire_slot: a slot for a holder, or a renewal of the one it has.
 * KEYS[1] semaphore. ARGV[1] limit, ARGV[2] holder, ARGV[3] lease ms.
 * Returns {1} when the holder has a slot, else {0, slots held by others}.
 */
export const ACQUIRE_SLOT = `${SEMAPHORE_PRELUDE}
local now = now_ms()
live_holders(KEYS[1], now)
local held = redis.call('ZCARD', KEYS[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) and held >= tonumber(ARGV[1]) then
  return {0, held}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
expire_with_last_lease(KEYS[1], now)
return {1}
`;

/**
 * renew_slot: extends a live slot's lease.
 * KEYS[1] semaphore. ARGV[1] holder, ARGV[2] lease ms.
 * Returns 1 when renewed, 0 when the holder has no live slot.
 */
export const RENEW_SLOT = `${SEMAPHORE_PRELUDE}
local now = now_ms()
live_holders(KEYS[1], now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
expire_with_last_lease(KEYS[1], now)
return 1
`;

/**
 * add: INCRBY and a fresh PEXPIRE together.
 * KEYS[1] counter. ARGV[1] delta, ARGV[2] ttl ms. Returns the new value.
 */
export const ADD = `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return value
`;

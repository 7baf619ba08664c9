import { Redis } from "ioredis";
import { LuaScript } from "../src/tracking/redis/lua-script.js";
import { encodeRows } from "../src/tracking/redis/row-encoding.js";
import { FIELD_CODE_BASE, FIELDS } from "../src/tracking/redis/task-hash.js";
import type { TaskEvent, TrackingStore } from "../src/tracking/tracking-store.js";

// A measuring instrument, not a store: what the Redis tracking store's writes would cost if it
// did only part of its work (`BENCH_TRACKING_FLOOR`, Redis backend only). The client side is the
// real one (BestEffortWriter, the rows of row-encoding.ts, one script call per 1,000 rows, split
// in Lua as the real script does), so the queue benchmark run with it shows how much of the
// throughput tracking costs *at best* on this machine, with broker and tracking on one Redis:
//
//   send     the rows sent and split, nothing stored: the client's cost and Redis's receiving.
//   hash     each row's fields written into the task's hash, blind: no read, no merge, no index.
//   indexes  that, plus the index entries the list query needs (time, status, function, queue,
//            update; a status change is ZREM + ZADD, after an HGET of the stored status), batched
//            per call as the real script does: still no merge logic.
//
// A store that keeps the issue's records (merge, indexes for every filter, retention, counters)
// cannot cost less than "indexes", which cannot cost less than "hash", nor that less than "send".
// Nothing can be read back (get, list… throw): the benchmark only writes. The rows are split
// as record-script.ts splits them (struct.unpack), so the two stay comparable.

export type FloorMode = "send" | "hash" | "indexes";
const MODES: readonly string[] = ["send", "hash", "indexes"];

const SCRIPT = (mode: FloorMode) => `
local base = ARGV[1]
local data = ARGV[2] .. "\\0"
local size, pos = #data - 1, 1
local FIELDS = {${FIELDS.map((f) => `"${f}"`).join(", ")}}
local CODE_BASE = ${FIELD_CODE_BASE}
local INDEXES = ${mode === "indexes" ? "true" : "false"}
local STORE = ${mode === "send" ? "false" : "true"}
local FORMATS = {}
local adds, rems = {}, {}
local function later(list, key, ...)
  local t = list[key]
  if not t then t = {} list[key] = t end
  for _, v in ipairs({ ... }) do t[#t + 1] = v end
end
while pos <= size do
  local id, code_text
  id, code_text, pos = struct.unpack("ss", data, pos)
  local codes = { string.byte(code_text, 1, -1) }
  local n = #codes
  local format = FORMATS[n]
  if not format then format = string.rep("s", n) FORMATS[n] = format end
  local vals = { struct.unpack(format, data, pos) }
  pos = vals[n + 1]
  local sets, row = {}, {}
  for k = 1, n do
    local name = FIELDS[codes[k] - CODE_BASE]
    sets[2 * k - 1] = name
    sets[2 * k] = vals[k]
    row[name] = vals[k]
  end
  local key = base .. "task:" .. id
  local old
  if INDEXES then old = redis.call("HGET", key, "st") end
  if STORE then redis.call("HSET", key, unpack(sets)) end
  if INDEXES then
    local st, sa = row.st, row.sa or row.ua
    if not old then
      later(adds, base .. "time", sa, id)
      if row.fk then later(adds, base .. "fn:" .. row.fk, sa, id) end
      if row.q then later(adds, base .. "q:" .. row.q, sa, id) end
    elseif old ~= st then
      later(rems, base .. "st:" .. old, id)
    end
    if st and old ~= st then later(adds, base .. "st:" .. st, sa, id) end
    later(adds, base .. "upd", row.ua, id)
  end
end
for key, members in pairs(rems) do
  for k = 1, #members, 4000 do redis.call("ZREM", key, unpack(members, k, math.min(k + 3999, #members))) end
end
for key, pairs_ in pairs(adds) do
  for k = 1, #pairs_, 4000 do redis.call("ZADD", key, unpack(pairs_, k, math.min(k + 3999, #pairs_))) end
end
return 1
`;

/** Reads BENCH_TRACKING_FLOOR: undefined (the real store), "send", "hash" or "indexes". */
export function floorMode(env: NodeJS.ProcessEnv): FloorMode | undefined {
  const value = env.BENCH_TRACKING_FLOOR;
  if (value === undefined || value === "") return undefined;
  if (MODES.includes(value)) return value as FloorMode;
  throw new Error(`BENCH_TRACKING_FLOOR=${value}: expected one of ${MODES.join(", ")}`);
}

/** The floor stand-in on the Redis of `url` (a redis:// tracking URL with `?prefix=`). */
export function openFloorStore(url: string, mode: FloorMode): TrackingStore {
  const parsed = new URL(url);
  const prefix = parsed.searchParams.get("prefix") ?? "gotaskq";
  const base = `{${prefix}}:t:`;
  const client = new Redis(`${parsed.protocol}//${parsed.host}${parsed.pathname}`);
  const script = new LuaScript(`floor-${mode}`, SCRIPT(mode));
  const unsupported = (): never => {
    throw new Error("the floor stand-in only writes task records (bench/floor-tracking-store.ts)");
  };
  return {
    kind: `redis-floor-${mode}`,
    migrate: async () => {},
    record: async (events: readonly TaskEvent[]) => {
      if (events.length === 0) return;
      const calls = encodeRows(events, { rowsPerCall: 1_000, charsPerCall: 8 * 1024 * 1024 });
      await Promise.all(calls.map((rows) => script.run(client, [`${base}time`], [base, rows])));
    },
    // The benchmark's no-op tasks write no log lines; heartbeats are a few per second.
    appendLogs: async () => {},
    heartbeat: async () => {},
    get: unsupported,
    list: unsupported,
    logs: unsupported,
    updates: unsupported,
    throughput: unsupported,
    workers: unsupported,
    purge: unsupported,
    close: async () => {
      client.disconnect();
    },
  };
}

import type { Redis } from "ioredis";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import {
  dbText,
  heartbeatToRow,
  logLineToRow,
  rowToHeartbeat,
  rowToLogLine,
  rowToRecord,
} from "../records/rows.js";
import type { WorkersTable } from "../records/schema.js";
import { bucketWidth, listLimit, logLimit, timeBound } from "../task-query.js";
import type {
  PurgeResult,
  TaskEvent,
  TaskLogLine,
  TaskPage,
  TaskQuery,
  TaskRecord,
  TaskUpdatesQuery,
  ThroughputBucket,
  ThroughputQuery,
  TrackingStore,
  WorkerHeartbeat,
} from "../tracking-store.js";
import {
  addMinute,
  BucketSums,
  countersAnswer,
  updatesRecords,
  updatesStart,
} from "./change-query.js";
import { toRedisTrackingError } from "./errors.js";
import { listArgs, listPage } from "./list-query.js";
import { LuaScript, type ScriptArg } from "./lua-script.js";
import {
  type RedisTrackingOptions,
  type ResolvedRedisTrackingOptions,
  resolveRedisTrackingOptions,
} from "./redis-tracking-options.js";
import { encodeRows } from "./row-encoding.js";
import { FINISHED_LUA, UPDATES_LUA, UPGRADE_LUA } from "./scripts/change-scripts.js";
import { THROUGHPUT_MINUTE_MS } from "./scripts/keys-lua.js";
import { LIST_LUA } from "./scripts/list-script.js";
import { RECORD_LUA } from "./scripts/record-script.js";
import { APPEND_LOGS_LUA, HEARTBEAT_LUA, PURGE_LUA } from "./scripts/side-scripts.js";
import { hashToValues, taskAge } from "./task-hash.js";

// The TrackingStore on Redis (7.0 or later) through ioredis. The record model and the merge are
// the SQL store's (records/rows.ts, sql/merge.ts), so both converge to the same records; what is
// Redis-specific lives in the scripts (scripts/, key layout in scripts/keys-lua.ts): a write
// batch is one script call per 1,000 tasks (the merge with the stored hashes and the index
// updates together, atomic), and a list page one more.
//
// Failure: the client (open-redis-tracking-store.ts) never queues commands while disconnected
// and bounds every command, so while Redis is down every call fails fast with `unavailable`,
// which the best-effort writer retries; nothing waits in memory without bound.

const SCRIPTS = {
  record: new LuaScript("record", RECORD_LUA),
  list: new LuaScript("list", LIST_LUA),
  appendLogs: new LuaScript("appendLogs", APPEND_LOGS_LUA),
  heartbeat: new LuaScript("heartbeat", HEARTBEAT_LUA),
  purge: new LuaScript("purge", PURGE_LUA),
  updates: new LuaScript("updates", UPDATES_LUA),
  finished: new LuaScript("finished", FINISHED_LUA),
  upgrade: new LuaScript("upgrade", UPGRADE_LUA),
};

/**
 * Rows per script call: bounds how long one call holds Redis (a flush of 5,000 items is at most
 * 5 calls, pipelined: one round trip). Smaller calls sent one after another kept a producer's
 * flushes so slow that its writer's buffer overflowed and dropped PENDING events, for no clear
 * gain in a worker's drain (bench/results/micro-measurements.md).
 */
const ROWS_PER_CALL = 1_000;
/** Characters of row values per script call: one rows argument stays far below Redis's 512 MB bulk limit. */
const ROW_BYTES_PER_CALL = 8 * 1024 * 1024;
/**
 * Rows arguments longer than this go to ioredis as a Buffer of their UTF-8 bytes (the same bytes
 * on the wire). Node writes a string to a socket through a fresh buffer of its UTF-8 size, and
 * above glibc's mmap threshold (128 KiB) that buffer is mapped, faulted in and unmapped on every
 * call. A producer's 1,000-row argument is cheaper sent as a Buffer; at 500 rows the string was
 * as cheap or cheaper, so smaller ones stay strings (bench/results/micro-measurements.md).
 */
const BUFFER_ARG_CHARS = 100_000;
const LOG_LINES_PER_CALL = 2_000;
/** A hash's own Redis expiry comes this long after its retention ends (record-script.ts). */
const EXPIRY_GRACE_MS = 3_600_000;
const PURGE_PER_CALL = 1_000;
/** Index entries one updates() call examines at most (expired ones are removed as met). */
const UPDATES_BUDGET = 5_000;
/** Index entries per call of the exact throughput scan. */
const FINISHED_PER_CALL = 2_000;
/**
 * 3: indexes of member id, score time (layout 2 spelt the time out in the member; layout 1 also
 * had no `upd` index and no throughput counters). Both are upgraded (scripts/change-scripts.ts).
 */
const SCHEMA_VERSION = "3";

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function parseVersion(info: string): number[] {
  const match = /redis_version:(\d+)\.(\d+)/.exec(info);
  return match ? [Number(match[1]), Number(match[2])] : [0, 0];
}

export class RedisTrackingStore implements TrackingStore {
  readonly kind = "redis";
  readonly #client: Redis;
  readonly #options: ResolvedRedisTrackingOptions;
  readonly #base: string;
  /** KEYS[1] of every script: routes the call to the prefix's slot on Redis Cluster. */
  readonly #routeKey: string;
  readonly #target: string;
  #lastConnectionError: string | undefined;
  #closed: Promise<void> | undefined;

  constructor(client: Redis, options: RedisTrackingOptions = {}, target = "redis") {
    this.#client = client;
    this.#options = resolveRedisTrackingOptions(options);
    this.#base = `{${this.#options.prefix}}:t:`;
    this.#routeKey = `${this.#base}time`;
    this.#target = target;
    // Connection errors surface through the calls that fail; the listener only keeps the cause
    // for their messages (without one, ioredis prints every reconnect failure to the console).
    client.on("error", (error: Error) => {
      this.#lastConnectionError = error.message;
    });
  }

  /** The key base, `{<prefix>}:t:` (tests delete what they wrote under it). */
  get keyBase(): string {
    return this.#base;
  }

  async #guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new UnavailableError("tracking store (redis) is closed");
    try {
      return await work();
    } catch (error) {
      if (error instanceof GoTaskQError) throw error;
      if (this.#client.status !== "ready") {
        const cause = this.#lastConnectionError
          ? ` (last error: ${this.#lastConnectionError})`
          : "";
        throw new UnavailableError(
          `tracking store (redis) ${operation} failed: not connected to ${this.#target}${cause}`,
          { cause: error },
        );
      }
      throw toRedisTrackingError(operation, error);
    }
  }

  #script(script: LuaScript, args: readonly ScriptArg[]): Promise<unknown> {
    return script.run(this.#client, [this.#routeKey], [this.#base as ScriptArg].concat(args));
  }

  /** Waits (up to the connect timeout) for the connection the client opens in the background. */
  async #connected(): Promise<void> {
    const client = this.#client;
    if (client.status === "ready") return;
    if (client.status === "wait") client.connect().catch(() => undefined);
    const ms = this.#options.connectTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        client.off("ready", done);
        resolve();
      };
      const timer = setTimeout(() => {
        client.off("ready", done);
        const cause = this.#lastConnectionError
          ? ` (last error: ${this.#lastConnectionError})`
          : "";
        reject(
          new UnavailableError(
            `tracking store (redis): ${this.#target} not reachable within ${ms} ms${cause}`,
          ),
        );
      }, ms);
      client.on("ready", done);
    });
  }

  migrate(): Promise<void> {
    return this.#guard("migrate", async () => {
      await this.#connected();
      const [major = 0, minor = 0] = parseVersion(await this.#client.info("server"));
      if (major < 7) {
        throw new GoTaskQError(
          "internal",
          `the Redis tracking store needs Redis 7.0 or later (${this.#target} runs ${major}.${minor})`,
        );
      }
      const key = `${this.#base}schema`;
      await this.#client.set(key, SCHEMA_VERSION, "NX");
      let stored = await this.#client.get(key);
      if (stored === "1" || stored === "2") {
        await this.#script(SCRIPTS.upgrade, [this.#options.retentionMs, EXPIRY_GRACE_MS]);
        stored = await this.#client.get(key);
      }
      if (stored !== SCHEMA_VERSION) {
        throw new GoTaskQError(
          "internal",
          `the keys under ${this.#base} were written by another GoTaskQ version (layout ${stored}); use another prefix`,
        );
      }
    });
  }

  record(events: readonly TaskEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.#guard("record", async () => {
      const now = Date.now();
      const head = [now, this.#options.retentionMs, EXPIRY_GRACE_MS];
      // One row per task, collapsed with the SQL store's merge rules (row-encoding.ts); a call
      // per ROWS_PER_CALL rows or ROW_BYTES_PER_CALL characters of values, whichever comes first
      // (large payloads), sent together. Each is atomic, and a task's row is in one.
      const rows = encodeRows(events, {
        rowsPerCall: ROWS_PER_CALL,
        charsPerCall: ROW_BYTES_PER_CALL,
      });
      await Promise.all(
        rows.map((part) =>
          this.#script(SCRIPTS.record, [
            ...head,
            part.length > BUFFER_ARG_CHARS ? Buffer.from(part) : part,
          ]),
        ),
      );
    });
  }

  appendLogs(lines: readonly TaskLogLine[]): Promise<void> {
    if (lines.length === 0) return Promise.resolve();
    return this.#guard("appendLogs", async () => {
      const o = this.#options;
      const head = [Date.now(), o.retentionMs, EXPIRY_GRACE_MS, o.maxLogLinesPerTask];
      await Promise.all(
        chunks(lines, LOG_LINES_PER_CALL).map((part) => {
          const args: ScriptArg[] = [...head];
          for (const line of part) {
            const row = logLineToRow(line);
            args.push(row.task_id, row.at, row.attempt, row.level, row.message);
          }
          return this.#script(SCRIPTS.appendLogs, args);
        }),
      );
    });
  }

  heartbeat(workers: readonly WorkerHeartbeat[]): Promise<void> {
    if (workers.length === 0) return Promise.resolve();
    return this.#guard("heartbeat", async () => {
      const latest = new Map<string, WorkersTable>();
      for (const hb of workers) {
        const row = heartbeatToRow(hb);
        const seen = latest.get(row.worker_id);
        if (!seen || row.seen_at >= seen.seen_at) latest.set(row.worker_id, row);
      }
      const args: ScriptArg[] = [Date.now(), this.#options.retentionMs, EXPIRY_GRACE_MS];
      for (const row of latest.values()) args.push(row.worker_id, row.seen_at, JSON.stringify(row));
      await this.#script(SCRIPTS.heartbeat, args);
    });
  }

  /** Tasks aged before this are past the retention (0 = none): reads skip what the sweep has not removed yet. */
  #cutoff(): number {
    return this.#options.retentionMs > 0 ? Date.now() - this.#options.retentionMs : 0;
  }

  get(taskId: string): Promise<TaskRecord | undefined> {
    return this.#guard("get", async () => {
      const id = dbText(taskId);
      const hash = await this.#client.hgetall(`${this.#base}task:${id}`);
      if (hash.st === undefined) return undefined;
      const row = hashToValues(id, hash);
      return taskAge(row) < this.#cutoff() ? undefined : rowToRecord(row);
    });
  }

  list(query: TaskQuery): Promise<TaskPage> {
    return this.#guard("list", async () => {
      const args = listArgs(query, {
        cutoff: this.#cutoff(),
        scanBudget: this.#options.scanBudget,
      });
      return listPage(await this.#script(SCRIPTS.list, args));
    });
  }

  logs(taskId: string, options: { limit?: number } = {}): Promise<TaskLogLine[]> {
    return this.#guard("logs", async () => {
      const limit = logLimit(options.limit);
      const id = dbText(taskId);
      const reply = await this.#client.zrange(`${this.#base}log:${id}`, -limit, -1, "WITHSCORES");
      const cutoff = this.#cutoff();
      const out: TaskLogLine[] = [];
      for (let i = 0; i + 1 < reply.length; i += 2) {
        const at = Number(reply[i + 1]);
        if (at < cutoff) continue;
        // "<seq>|<attempt>|<level>|<message>": the message may itself contain "|".
        const member = reply[i] as string;
        const a = member.indexOf("|");
        const b = member.indexOf("|", a + 1);
        const c = member.indexOf("|", b + 1);
        out.push(
          rowToLogLine({
            task_id: id,
            attempt: Number(member.slice(a + 1, b)),
            at,
            level: member.slice(b + 1, c),
            message: member.slice(c + 1),
          }),
        );
      }
      return out;
    });
  }

  updates(query: TaskUpdatesQuery): Promise<TaskRecord[]> {
    return this.#guard("updates", async () => {
      const limit = listLimit(query.limit);
      const [start, startId] = updatesStart(query);
      const reply = await this.#script(SCRIPTS.updates, [
        this.#cutoff(),
        limit,
        start,
        startId,
        UPDATES_BUDGET,
      ]);
      return updatesRecords(reply);
    });
  }

  throughput(query: ThroughputQuery): Promise<ThroughputBucket[]> {
    return this.#guard("throughput", async () => {
      const width = bucketWidth(query.bucketMs);
      const since = timeBound("since", query.since);
      const sums = new BucketSums(width);
      if (countersAnswer(since, width)) {
        // The counters: one small hash per minute with finished tasks, read in one round trip.
        const cutoff = this.#cutoff();
        const from = Math.max(since, cutoff - (cutoff % THROUGHPUT_MINUTE_MS));
        const minutes = await this.#client.zrangebyscore(`${this.#base}tpm`, from, "+inf");
        if (minutes.length === 0) return [];
        const pipeline = this.#client.pipeline();
        for (const minute of minutes) pipeline.hgetall(`${this.#base}tp:${minute}`);
        const replies = (await pipeline.exec()) ?? [];
        replies.forEach(([error, hash], i) => {
          if (error) throw error;
          addMinute(sums, Number(minutes[i]), hash as Record<string, string>);
        });
        return sums.result();
      }
      // Any other bucket width or start: the exact scan of every task changed since `since`.
      let start: ScriptArg = since;
      let startId = "";
      for (;;) {
        const [last, ...found] = (await this.#script(SCRIPTS.finished, [
          this.#cutoff(),
          since,
          start,
          startId,
          FINISHED_PER_CALL,
        ])) as string[];
        for (let i = 0; i + 2 < found.length; i += 3) {
          const completed = Number(found[i + 2]);
          const success = found[i] === "SUCCESS";
          sums.add(found[i + 1] as string, completed, success ? 1 : 0, success ? 0 : 1);
        }
        if (!last) return sums.result();
        // The last position examined, "<updated_at>:<id>": the next chunk starts after it.
        const colon = last.indexOf(":");
        start = last.slice(0, colon);
        startId = last.slice(colon + 1);
      }
    });
  }

  workers(options: { seenSince: number }): Promise<WorkerHeartbeat[]> {
    return this.#guard("workers", async () => {
      const since = Math.max(timeBound("seenSince", options.seenSince), this.#cutoff());
      const ids = await this.#client.zrangebyscore(`${this.#base}workers`, since, "+inf");
      if (ids.length === 0) return [];
      const values = await this.#client.mget(ids.map((id) => `${this.#base}w:${id}`));
      const out: WorkerHeartbeat[] = [];
      for (const value of values) {
        if (value === null) continue;
        out.push(rowToHeartbeat(JSON.parse(value) as WorkersTable));
      }
      return out.sort((x, y) => (x.workerId < y.workerId ? -1 : x.workerId > y.workerId ? 1 : 0));
    });
  }

  purge(options: { olderThan: number }): Promise<PurgeResult> {
    return this.#guard("purge", async () => {
      const cutoff = timeBound("olderThan", options.olderThan);
      const total: PurgeResult = { tasks: 0, logs: 0, workers: 0 };
      for (;;) {
        const [tasks, logs, workers, more] = (await this.#script(SCRIPTS.purge, [
          cutoff,
          PURGE_PER_CALL,
        ])) as [number, number, number, number];
        total.tasks += tasks;
        total.logs += logs;
        total.workers += workers;
        if (more === 0) return total;
      }
    });
  }

  /** Idempotent: sends QUIT when connected, else stops reconnecting. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const client = this.#client;
      if (client.status === "ready") {
        try {
          await client.quit();
          return;
        } catch {
          // disconnected meanwhile: fall through
        }
      }
      client.disconnect();
    })();
    return this.#closed;
  }
}

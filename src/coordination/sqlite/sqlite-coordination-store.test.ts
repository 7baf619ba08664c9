import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openSqliteBroker } from "../../broker/sqlite/sqlite-broker.js";
import { describeCoordinationConformance } from "../conformance/coordination.case.js";
import { open, openSqliteCoordinationStore } from "./sqlite-coordination-store.js";

// The SQLite coordination store on the shared conformance suite — each harness a fresh file in a
// fresh directory, every client its own Database handle on it, as separate processes would have —
// plus what only a file has to prove: the tables share a file with the broker's, expired rows
// are swept, and the URL forms.

const OPERATION_TIMEOUT_MS = 300;

function tempDir(): string {
  return mkdtempSync(path.join(tmpdir(), "gotaskq-coordination-"));
}

describeCoordinationConformance(
  "sqlite",
  async () => {
    const dir = tempDir();
    const file = path.join(dir, "coordination.db");
    let locker: Database.Database | undefined;
    const openOn = (prefix: string) =>
      Promise.resolve(
        openSqliteCoordinationStore({
          path: file,
          prefix,
          operationTimeoutMs: OPERATION_TIMEOUT_MS,
        }),
      );
    return {
      open: () => openOn("conformance"),
      openNamespace: (name) => openOn(`conformance${name}`),
      // Another process holding the write lock past the operation timeout: what "the store went
      // away" looks like for a file (writes wait busy_timeout, then fail; WAL readers go on).
      breakConnection: async () => {
        locker = new Database(file);
        locker.exec("BEGIN IMMEDIATE");
      },
      cleanup: async () => {
        if (locker?.inTransaction) locker.exec("ROLLBACK");
        locker?.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
  {
    operationTimeoutMs: OPERATION_TIMEOUT_MS,
    skip: {
      "store-clock":
        "SQLite has no server: the store's clock is the process clock, which every process on the machine sharing the file reads alike; a client with a clock of its own cannot exist",
    },
  },
);

const RACER = fileURLToPath(new URL("./racer-process.fixture.ts", import.meta.url));

interface RaceOutcome {
  name: string;
  claims: number[];
  slots: number[];
}

/** Starts racer-process.fixture.ts; `ready` resolves once it opened the file and waits for go. */
function racer(file: string, name: string, rounds: number) {
  const child = spawn(process.execPath, ["--import", "tsx", RACER, file, name, String(rounds)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  let out = "";
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk;
    if (out.startsWith("ready\n")) markReady();
  });
  const done = new Promise<RaceOutcome>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      if (code === 0) resolve(JSON.parse(out.slice("ready\n".length)));
      else reject(new Error(`racer ${name} exited with ${code}: ${out}`));
    });
  });
  return { ready, done, go: () => child.stdin.end("go\n") };
}

describe("sqlite coordination store specifics", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  const fresh = () => {
    const dir = tempDir();
    dirs.push(dir);
    return dir;
  };

  it("two processes racing for the same keys and slots: exactly one wins each, 1,000 rounds", async () => {
    const rounds = 1_000;
    // Every race must have exactly one winner per key and slot. That the two actually raced
    // (each won some rounds) needs both to run at once: on a loaded machine one racer can
    // finish its ~50 ms of work before the other is scheduled, so a race is run again (up to
    // three times) until both have won something.
    let raced = false;
    for (let attempt = 0; attempt < 3 && !raced; attempt++) {
      const file = path.join(fresh(), "coordination.db");
      // Created first, so neither racer spends its start migrating.
      await openSqliteCoordinationStore({ path: file }).close();
      const racers = [racer(file, "a", rounds), racer(file, "b", rounds)];
      await Promise.all(racers.map((r) => r.ready));
      for (const r of racers) r.go();
      const [a, b] = await Promise.all(racers.map((r) => r.done));
      if (!a || !b) throw new Error("a racer is missing");
      for (const kind of ["claims", "slots"] as const) {
        const won = [...a[kind], ...b[kind]].sort((x, y) => x - y);
        expect(won, kind).toEqual(Array.from({ length: rounds }, (_, i) => i));
      }
      const store = openSqliteCoordinationStore({ path: file, prefix: "race" });
      const winners = new Set(a.claims);
      for (const round of [0, rounds - 1]) {
        expect((await store.read(`race:${round}`))?.value).toBe(winners.has(round) ? "a" : "b");
      }
      await store.close();
      raced = a.claims.length + a.slots.length > 0 && b.claims.length + b.slots.length > 0;
    }
    expect(raced, "in three races, one racer always won everything").toBe(true);
  });

  it("shares a file with the broker without touching its schema version", async () => {
    const file = path.join(fresh(), "broker.db");
    const broker = openSqliteBroker({ path: file });
    const store = openSqliteCoordinationStore({ path: file });
    await store.put("k", "v", 60_000);
    await broker.publish("q", [{ id: "m", body: new Uint8Array([1]), priority: 5, delayMs: 0 }]);
    const again = openSqliteCoordinationStore({ path: file });
    expect((await again.read("k"))?.value).toBe("v");
    const raw = new Database(file, { readonly: true });
    expect(raw.pragma("user_version", { simple: true })).toBe(1);
    expect(raw.prepare("SELECT version FROM coordination_schema").all()).toEqual([{ version: 1 }]);
    raw.close();
    await Promise.all([store.close(), again.close(), broker.close()]);
  });

  it("sweeps expired rows of every kind, a bounded batch per interval", async () => {
    const file = path.join(fresh(), "coordination.db");
    let now = 1_000_000;
    const store = openSqliteCoordinationStore({
      path: file,
      now: () => now,
      cleanupIntervalMs: 10_000,
    });
    await store.put("k", "v", 1_000);
    await store.takeTokens("b", { limit: 1, intervalMs: 1_000 });
    await store.acquireSlot("s", 1, "h", 1_000);
    await store.add("c", 1, 1_000);
    const raw = new Database(file, { readonly: true });
    const rows = () =>
      ["entries", "buckets", "slots", "counters"].map(
        (table) =>
          (raw.prepare(`SELECT count(*) AS n FROM coordination_${table}`).get() as { n: number }).n,
      );
    expect(rows()).toEqual([1, 1, 1, 1]);
    now += 5_000;
    await store.ping();
    expect(rows()).toEqual([1, 1, 1, 1]);
    now += 5_000;
    await store.ping();
    expect(rows()).toEqual([0, 0, 0, 0]);
    raw.close();
    await store.close();
  });

  it("opens sqlite://relative paths against the working directory and sqlite:///absolute ones", async () => {
    const dir = fresh();
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const relative = open("sqlite://nested/coordination.db?prefix=one");
      await relative.put("k", "v", 60_000);
      const absolute = open(`sqlite://${path.join(dir, "nested", "coordination.db")}`, {
        prefix: "one",
      });
      expect((await absolute.read("k"))?.value).toBe("v");
      const otherPrefix = open(`sqlite://${path.join(dir, "nested", "coordination.db")}`);
      expect(await otherPrefix.read("k")).toBeUndefined();
      await Promise.all([relative.close(), absolute.close(), otherPrefix.close()]);
    } finally {
      process.chdir(cwd);
    }
    expect(() => open("sqlite://")).toThrow(/names no file/);
    expect(() => open("sqlite://x.db?prefix=has space")).toThrow(/prefix/);
  });

  it("reports an unusable file as unavailable, naming it", () => {
    const file = path.join(fresh(), "not-a-dir");
    rmSync(file, { force: true });
    Database(file).close();
    expect(() => openSqliteCoordinationStore({ path: path.join(file, "coordination.db") })).toThrow(
      expect.objectContaining({
        code: "unavailable",
        message: expect.stringContaining("not-a-dir"),
      }),
    );
  });
});

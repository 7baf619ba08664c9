import pg from "pg";
import { afterAll, describe, expect, it, vi } from "vitest";
import { pollUntil } from "../../../test/support/poll-until.js";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import {
  type CoordinationHarness,
  describeCoordinationConformance,
} from "../conformance/coordination.case.js";
import type { CoordinationStore } from "../coordination-store.js";
import { open, SCHEMES } from "./postgres-coordination-store.js";
import { type SilentProxy, startSilentProxy } from "./silent-proxy.fixture.js";

// Every harness works under its own deployment prefix, gotaskq_test_<run>_<n>[-<name>], on the
// shared coordination tables of the test database, and deletes its rows when its case ends; a
// crashed run's rows are removed by the afterAll of a later run (prefixes older than an hour).
// Clients reach the server through a proxy of the harness's own, so breakConnection() silences
// exactly that harness's clients.

const available = await serviceAvailable("postgres");
const url = SERVICES.postgres.url;
const TABLES = [
  "gotaskq_coordination_entries",
  "gotaskq_coordination_buckets",
  "gotaskq_coordination_slots",
  "gotaskq_coordination_counters",
];
// gotaskq_test_<start time, base 36>_<pid>: the time lets a later run spot leftovers.
const run = `gotaskq_test_${Date.now().toString(36)}_${process.pid}`;
const OPERATION_TIMEOUT_MS = 1_000;
let harnesses = 0;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

async function deleteRows(prefixes: readonly string[]): Promise<void> {
  await admin(async (client) => {
    for (const table of TABLES) {
      await client.query(`delete from ${table} where ns = any($1::text[])`, [prefixes]);
    }
  });
}

/** The service URL with its host and port replaced (a proxy's, an unused port's). */
function urlVia(address: { host: string; port: number }): string {
  const parsed = new URL(url);
  parsed.hostname = address.host;
  parsed.port = String(address.port);
  return parsed.toString();
}

async function makeHarness(): Promise<CoordinationHarness> {
  harnesses += 1;
  const prefix = `${run}_${harnesses}`;
  const prefixes = [prefix];
  const proxy: SilentProxy = await startSilentProxy(SERVICES.postgres);
  const viaProxy = urlVia(proxy.address);
  const openUnder = (ns: string) =>
    open(viaProxy, { prefix: ns, operationTimeoutMs: OPERATION_TIMEOUT_MS });
  return {
    open: () => openUnder(prefix),
    openNamespace: (name) => {
      prefixes.push(`${prefix}-${name}`);
      return openUnder(`${prefix}-${name}`);
    },
    breakConnection: async () => proxy.silence(),
    cleanup: async () => {
      await proxy.close();
      await deleteRows(prefixes);
    },
  };
}

describe.skipIf(!available)("PostgreSQL coordination store", () => {
  afterAll(async () => {
    const leftovers = await admin(async (client) => {
      const found = new Set<string>();
      for (const table of TABLES) {
        const { rows } = await client.query<{ ns: string }>(
          `select distinct ns from ${table} where ns like 'gotaskq\\_test\\_%'`,
        );
        for (const { ns } of rows) found.add(ns);
      }
      return [...found];
    });
    const stale = leftovers.filter((ns) => {
      const stamp = Number.parseInt(ns.split("_")[2] ?? "", 36);
      return ns.startsWith(run) || Date.now() - stamp > 3_600_000;
    });
    if (stale.length > 0) await deleteRows(stale);
  });

  // The client's clock is never read (every TTL is judged by the database's), so the suite's
  // store-clock case runs on plain clients: there is nothing to skew.
  describeCoordinationConformance("postgres", makeHarness, {
    operationTimeoutMs: OPERATION_TIMEOUT_MS,
  });

  describe("beyond the conformance suite", () => {
    const stores: CoordinationStore[] = [];
    const prefix = `${run}_own`;
    const track = async (store: Promise<CoordinationStore>) => {
      const opened = await store;
      stores.push(opened);
      return opened;
    };
    afterAll(async () => {
      await Promise.allSettled(stores.map((store) => store.close()));
      await deleteRows([prefix]);
    });

    it("is chosen by postgres: and postgresql: URLs", () => {
      expect(SCHEMES).toEqual(["postgres:", "postgresql:"]);
    });

    it("takes ?prefix= from the URL and hands pg a URL without it", async () => {
      const store = await track(
        open(`${url.replace(/^postgres:/, "postgresql:")}?prefix=${encodeURIComponent(prefix)}`),
      );
      expect(store.kind).toBe("postgres");
      await store.put("from-url", "v", 60_000);
      const { rows } = await admin((c) =>
        c.query("select value from gotaskq_coordination_entries where ns = $1 and key = $2", [
          prefix,
          "from-url",
        ]),
      );
      expect(rows).toEqual([{ value: "v" }]);
    });

    it("creates its tables once when several processes open a fresh schema at once", async () => {
      const schema = `${run}_schema`;
      try {
        const opened = await Promise.all(
          Array.from({ length: 6 }, () => track(open(`${url}?schema=${schema}`, { prefix }))),
        );
        await opened[0]?.put("k", "v", 60_000);
        expect((await opened[5]?.read("k"))?.value).toBe("v");
        const { rows } = await admin((c) =>
          c.query<{ name: string }>(
            "select table_name as name from information_schema.tables where table_schema = $1 order by 1",
            [schema],
          ),
        );
        expect(rows.map((r) => r.name)).toEqual(
          [...TABLES, "gotaskq_coordination_migration"].sort(),
        );
      } finally {
        await admin((c) => c.query(`drop schema if exists ${schema} cascade`));
      }
    });

    it("judges TTLs by the database's clock, whatever the client's reads", async () => {
      const store = await track(open(url, { prefix }));
      const now = Date.now();
      const skewed = vi.spyOn(Date, "now").mockReturnValue(now + 3_600_000);
      try {
        await store.put("clock", "v", 60_000);
        const entry = await store.read("clock");
        expect(entry?.ttlMs).toBeGreaterThan(50_000);
        expect(entry?.ttlMs).toBeLessThanOrEqual(60_000);
      } finally {
        skewed.mockRestore();
      }
    });

    it("sweeps expired rows of every table that no write would overwrite", async () => {
      const rows: [string, string][] = [
        [
          "gotaskq_coordination_entries",
          "(ns, key, value, expires_at) values ($1, 'swept', '', 0)",
        ],
        [
          "gotaskq_coordination_buckets",
          "(ns, name, tokens, updated_at, granted, expires_at) values ($1, 'swept', 0, 0, true, 0)",
        ],
        [
          "gotaskq_coordination_slots",
          "(ns, name, holder, expires_at) values ($1, 'swept', 'h', 0)",
        ],
        [
          "gotaskq_coordination_counters",
          "(ns, name, value, expires_at) values ($1, 'swept', 1, 0)",
        ],
      ];
      await admin(async (c) => {
        for (const [table, values] of rows)
          await c.query(`insert into ${table} ${values}`, [prefix]);
      });
      // A fresh client sweeps on its first write; close() waits for that sweep.
      const store = await open(url, { prefix });
      await store.put("trigger", "v", 60_000);
      await store.close();
      const left = await admin(async (c) => {
        const counts: number[] = [];
        for (const [table] of rows) {
          const { rows: found } = await c.query(
            `select 1 from ${table} where ns = $1 and expires_at = 0`,
            [prefix],
          );
          counts.push(found.length);
        }
        return counts;
      });
      expect(left).toEqual([0, 0, 0, 0]);
    });

    it("lists keys holding LIKE's wildcards literally", async () => {
      const store = await track(open(url, { prefix }));
      await store.put("w:a%b", "1", 60_000);
      await store.put("w:a_c", "2", 60_000);
      await store.put("w:axc", "3", 60_000);
      const page = await store.list("w:a%", { limit: 10 });
      expect(page.entries.map((e) => e.key)).toEqual(["w:a%b"]);
      const underscore = await store.list("w:a_", { limit: 10 });
      expect(underscore.entries.map((e) => e.key)).toEqual(["w:a_c"]);
    });

    it("refuses what PostgreSQL cannot store or index as an invalid argument", async () => {
      const store = await track(open(url, { prefix }));
      for (const call of [
        () => store.put("nul", "a\u0000b", 60_000),
        () => store.put("a\u0000b", "v", 60_000),
        () => store.put("k".repeat(1025), "v", 60_000),
        () => store.acquireSlot("s", 1, "é".repeat(513), 60_000),
        () => store.list("a\u0000", { limit: 10 }),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: "invalid_argument" });
      }
      await store.put("k".repeat(1024), "v", 60_000);
      expect((await store.read("k".repeat(1024)))?.value).toBe("v");
      // In a batch: the request is named, and its valid neighbours are not applied either.
      const fine = { key: "batch:fine", value: "v", ttlMs: 60_000 };
      await expect(
        store.claimMany([fine, { key: "batch:nul", value: "a\u0000b", ttlMs: 60_000 }]),
      ).rejects.toThrow(/claimMany request 1: value must not contain the character U\+0000/);
      await expect(
        store.replaceMany([
          { ...fine, expected: "v" },
          { key: "k".repeat(1025), expected: "v", value: "w", ttlMs: 60_000 },
        ]),
      ).rejects.toThrow(/replaceMany request 1: key must be at most 1024 bytes/);
      await expect(store.replaceMany([{ ...fine, expected: "a\u0000" }])).rejects.toMatchObject({
        code: "invalid_argument",
      });
      expect(await store.read("batch:fine")).toBeUndefined();
    });

    it("claims again, in one statement, the keys of a batch that lost a race to a commit", async () => {
      const store = await track(open(url, { prefix }));
      const racer = new pg.Client({ connectionString: url });
      await racer.connect();
      try {
        // The racer's row is uncommitted when the batch reaches it: the batch waits, and its
        // snapshot predates the row, so its first statement answers neither for that key.
        await racer.query("begin");
        await racer.query(
          `insert into gotaskq_coordination_entries (ns, key, value, expires_at)
           values ($1, 'raced', 'racer', floor(extract(epoch from now()) * 1000)::bigint + 60000)`,
          [prefix],
        );
        const batch = store.claimMany([
          { key: "not-raced", value: "batch", ttlMs: 60_000 },
          { key: "raced", value: "batch", ttlMs: 60_000 },
          { key: "raced", value: "batch again", ttlMs: 60_000 },
        ]);
        await pollUntil(
          async () => {
            const { rows } = await admin((c) =>
              c.query(
                `select 1 from pg_stat_activity
                 where application_name = 'gotaskq-coordination' and wait_event_type = 'Lock'`,
              ),
            );
            return rows.length > 0;
          },
          { timeoutMs: 3_000, what: "the batch to wait for the racer's row" },
        );
        await racer.query("commit");
        const results = await batch;
        expect(results[0]).toEqual({ claimed: true });
        for (const result of results.slice(1)) {
          expect(result).toMatchObject({ claimed: false, holder: { value: "racer" } });
        }
        expect((await store.read("raced"))?.value).toBe("racer");
      } finally {
        await racer.end();
      }
    });

    it("refuses a bad prefix or timeout when opening, naming the rule", async () => {
      await expect(open(url, { prefix: "has space" })).rejects.toThrow(/prefix must be 1–64/);
      await expect(open(url, { operationTimeoutMs: 5 })).rejects.toThrow(/operationTimeoutMs/);
      await expect(open("redis://127.0.0.1:6379")).rejects.toThrow(/postgres:\/\//);
    });

    it("fails to open as unavailable, promptly, when nothing listens", async () => {
      const started = Date.now();
      await expect(
        open(urlVia({ host: "127.0.0.1", port: 1 }), { prefix, operationTimeoutMs: 500 }),
      ).rejects.toMatchObject({ code: "unavailable" });
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it("rejects as unavailable within the operation timeout when the server falls silent", async () => {
      const proxy = await startSilentProxy(SERVICES.postgres);
      try {
        const store = await track(open(urlVia(proxy.address), { prefix, operationTimeoutMs: 500 }));
        await store.ping();
        proxy.silence();
        for (const call of [
          () => store.ping(),
          () => store.claim("silent", "v", 60_000),
          () => store.claimMany([{ key: "silent", value: "v", ttlMs: 60_000 }]),
          () => store.acquireSlot("silent", 1, "h", 60_000),
        ]) {
          const started = Date.now();
          await expect(call()).rejects.toMatchObject({ code: "unavailable" });
          expect(Date.now() - started).toBeLessThan(1_500);
        }
        const closing = Date.now();
        await store.close();
        expect(Date.now() - closing).toBeLessThan(1_500);
      } finally {
        await proxy.close();
      }
    });

    it("rejects as unavailable at once when the server closes the connection", async () => {
      const proxy = await startSilentProxy(SERVICES.postgres);
      try {
        const store = await track(open(urlVia(proxy.address), { prefix, operationTimeoutMs: 500 }));
        await store.put("cut", "v", 60_000);
        proxy.cut();
        await expect(store.read("cut")).rejects.toMatchObject({ code: "unavailable" });
      } finally {
        await proxy.close();
      }
    });
  });
});

import { expect } from "vitest";
import {
  type ClaimRequest,
  type ClaimResult,
  type CoordinationStore,
  MAX_MANY,
  type ReplaceRequest,
} from "../coordination-store.js";
import type { CoordinationCase, CoordinationCaseName } from "./case-list.case.js";
import { EXPIRY_SLACK_MS, expectRejects, pollUntil } from "./waits.case.js";

// Conformance cases for the batch operations: claimMany and replaceMany answer, request by
// request, what claim and replace would have answered one after another in request order; a bad
// request refuses the whole call; a full batch works; two clients batching overlapping keys at
// once leave every key with exactly one winner. TTLs are long (minutes) except for the entries a
// case lets expire (30 ms, waited out by polling).

const MINUTE = 60_000;
/** How far below its full TTL an entry read in the same case may be: a slow host, a GC pause. */
const SLACK_MS = 10_000;
const ROUNDS = 10;

/** An entry of `key` that was live and has expired (absent to every call, maybe still stored). */
async function expiredEntry(store: CoordinationStore, key: string, value: string): Promise<void> {
  await store.put(key, value, 30);
  await pollUntil(async () => (await store.read(key)) === undefined, {
    timeoutMs: EXPIRY_SLACK_MS,
    what: `${key} to expire after 30 ms`,
  });
}

function expectHolder(
  result: ClaimResult | undefined,
  value: string,
  ttlMs: number,
  what: string,
): void {
  expect(result, what).toMatchObject({ claimed: false, holder: { value } });
  const got = result?.claimed === false ? result.holder.ttlMs : Number.NaN;
  expect(got, `${what}: holder TTL`).toBeGreaterThan(ttlMs - SLACK_MS);
  expect(got, `${what}: holder TTL`).toBeLessThanOrEqual(ttlMs);
}

async function expectEntry(
  store: CoordinationStore,
  key: string,
  value: string,
  ttlMs: number,
): Promise<void> {
  const entry = await store.read(key);
  expect(entry?.value, key).toBe(value);
  expect(entry?.ttlMs, `${key}: TTL`).toBeGreaterThan(ttlMs - SLACK_MS);
  expect(entry?.ttlMs, `${key}: TTL`).toBeLessThanOrEqual(ttlMs);
}

export const BATCH_CASES = {
  "claim-many": async (context) => {
    const store = await context.open();
    const other = await context.open();
    await store.put("idem:live", "held", 2 * MINUTE);
    await expiredEntry(store, "idem:expired", "old");

    const results = await store.claimMany([
      { key: "idem:absent", value: "a", ttlMs: MINUTE },
      { key: "idem:live", value: "b", ttlMs: MINUTE },
      { key: "idem:expired", value: "c", ttlMs: MINUTE },
      { key: "idem:long", value: "d", ttlMs: 5 * MINUTE },
    ]);
    expect(results).toHaveLength(4);
    expect(results[0]).toEqual({ claimed: true });
    expectHolder(results[1], "held", 2 * MINUTE, "a live key");
    expect(results[2], "an expired key").toEqual({ claimed: true });
    expect(results[3]).toEqual({ claimed: true });
    // Each claimed key holds its request's value and TTL; the live one is unchanged.
    await expectEntry(other, "idem:absent", "a", MINUTE);
    await expectEntry(other, "idem:live", "held", 2 * MINUTE);
    await expectEntry(other, "idem:expired", "c", MINUTE);
    await expectEntry(other, "idem:long", "d", 5 * MINUTE);

    // Again, through another client: every key is held now, and the batch answers what claim
    // answers one by one.
    const again: ClaimRequest[] = ["absent", "live", "expired", "long"].map((name) => ({
      key: `idem:${name}`,
      value: "late",
      ttlMs: MINUTE,
    }));
    const batched = await other.claimMany(again);
    const single: ClaimResult[] = [];
    for (const request of again) {
      single.push(await store.claim(request.key, request.value, request.ttlMs));
    }
    const values = (answers: ClaimResult[]) =>
      answers.map((answer) => (answer.claimed ? "claimed" : answer.holder.value));
    expect(values(batched)).toEqual(["a", "held", "c", "d"]);
    expect(values(single)).toEqual(values(batched));
    expectHolder(batched[3], "d", 5 * MINUTE, "the long claim");
  },

  "claim-many-repeat": async (context) => {
    const store = await context.open();
    await store.put("held", "h", 2 * MINUTE);
    const results = await store.claimMany([
      { key: "twice", value: "first", ttlMs: MINUTE },
      { key: "other", value: "x", ttlMs: MINUTE },
      { key: "twice", value: "second", ttlMs: 5 * MINUTE },
      { key: "held", value: "a", ttlMs: MINUTE },
      { key: "twice", value: "third", ttlMs: MINUTE },
      { key: "held", value: "b", ttlMs: MINUTE },
    ]);
    expect(results).toHaveLength(6);
    expect(results[0]).toEqual({ claimed: true });
    expect(results[1]).toEqual({ claimed: true });
    // The later requests of a key see the earlier one's value, with its TTL (not their own).
    expectHolder(results[2], "first", MINUTE, "the second request of a fresh key");
    expectHolder(results[4], "first", MINUTE, "the third request of a fresh key");
    // Both requests of a held key see the holder.
    expectHolder(results[3], "h", 2 * MINUTE, "the first request of a held key");
    expectHolder(results[5], "h", 2 * MINUTE, "the second request of a held key");
    await expectEntry(store, "twice", "first", MINUTE);
    await expectEntry(store, "held", "h", 2 * MINUTE);
  },

  "replace-many": async (context) => {
    const store = await context.open();
    const other = await context.open();
    for (const key of ["a", "b", "c"]) await store.put(key, "v1", MINUTE);
    await expiredEntry(store, "e", "v1");

    const results = await store.replaceMany([
      { key: "a", expected: "v1", value: "a2", ttlMs: 5 * MINUTE },
      { key: "b", expected: "wrong", value: "b2", ttlMs: 5 * MINUTE },
      { key: "absent", expected: "v1", value: "x", ttlMs: 5 * MINUTE },
      { key: "e", expected: "v1", value: "e2", ttlMs: 5 * MINUTE },
      // A repeated key sees the earlier request's replacement, and a stale expected fails.
      { key: "c", expected: "v1", value: "c2", ttlMs: MINUTE },
      { key: "c", expected: "c2", value: "c3", ttlMs: 5 * MINUTE },
      { key: "c", expected: "v1", value: "c4", ttlMs: MINUTE },
      { key: "a", expected: "v1", value: "a3", ttlMs: MINUTE },
    ]);
    expect(results).toEqual([true, false, false, false, true, true, false, false]);
    // Replaced entries hold the new value with the new TTL; the rest are unchanged.
    await expectEntry(other, "a", "a2", 5 * MINUTE);
    await expectEntry(other, "b", "v1", MINUTE);
    await expectEntry(other, "c", "c3", 5 * MINUTE);
    expect(await other.read("absent")).toBeUndefined();
    expect(await other.read("e")).toBeUndefined();

    // One request is a batch too.
    expect(
      await other.replaceMany([{ key: "b", expected: "v1", value: "b2", ttlMs: MINUTE }]),
    ).toEqual([true]);
    expect((await store.read("b"))?.value).toBe("b2");
  },

  "many-full-batch": async (context) => {
    expect(MAX_MANY).toBe(1_000);
    const store = await context.open();
    const other = await context.open();
    const keys = Array.from({ length: MAX_MANY }, (_, i) => `batch:${String(i).padStart(4, "0")}`);
    // A tenth are held already.
    for (const key of keys.slice(0, MAX_MANY / 10)) await store.put(key, `held ${key}`, MINUTE);

    const claims = await store.claimMany(keys.map((key) => ({ key, value: key, ttlMs: MINUTE })));
    expect(claims).toHaveLength(MAX_MANY);
    claims.forEach((result, i) => {
      if (i < MAX_MANY / 10) {
        expect(result, keys[i]).toMatchObject({
          claimed: false,
          holder: { value: `held ${keys[i]}` },
        });
      } else {
        expect(result, keys[i]).toEqual({ claimed: true });
      }
    });
    const again = await other.claimMany(keys.map((key) => ({ key, value: "late", ttlMs: MINUTE })));
    expect(again.filter((result) => result.claimed)).toEqual([]);

    const replaces = await other.replaceMany(
      keys.map((key, i) => ({
        key,
        expected: i < MAX_MANY / 10 ? `held ${key}` : key,
        value: `replaced ${key}`,
        ttlMs: 2 * MINUTE,
      })),
    );
    expect(replaces.filter(Boolean)).toHaveLength(MAX_MANY);
    const page = await store.list("batch:", { limit: 1_000 });
    expect(page.entries.map((entry) => entry.key)).toEqual(keys);
    expect(page.entries.every((entry) => entry.value === `replaced ${entry.key}`)).toBe(true);
  },

  "many-invalid": async (context) => {
    const store = await context.open();
    await store.put("r", "v", MINUTE);
    const max = store.limits.maxValueBytes;
    const claim = (key: string): ClaimRequest => ({ key, value: "v", ttlMs: MINUTE });
    const valid = [claim("c1"), claim("c2")];
    const replace: ReplaceRequest = { key: "r", expected: "v", value: "w", ttlMs: MINUTE };
    const tooMany = Array.from({ length: MAX_MANY + 1 }, (_, i) => claim(`many:${i}`));
    const bad: [string, () => Promise<unknown>][] = [
      ["claimMany of no requests", () => store.claimMany([])],
      ["claimMany of MAX_MANY + 1 requests", () => store.claimMany(tooMany)],
      ["claimMany of a non-array", () => store.claimMany("c1" as never)],
      ["claimMany with an empty key", () => store.claimMany([...valid, claim("")])],
      ["claimMany with a null request", () => store.claimMany([...valid, null as never])],
      [
        "claimMany with a TTL of 0",
        () => store.claimMany([...valid, { key: "c3", value: "v", ttlMs: 0 }]),
      ],
      [
        "claimMany with a fractional TTL",
        () => store.claimMany([{ key: "c3", value: "v", ttlMs: 1.5 }, ...valid]),
      ],
      [
        "claimMany with a non-string value",
        () => store.claimMany([...valid, { key: "c3", value: 5 as never, ttlMs: MINUTE }]),
      ],
      [
        "claimMany with a value over maxValueBytes",
        () => store.claimMany([...valid, { key: "c3", value: "a".repeat(max + 1), ttlMs: MINUTE }]),
      ],
      ["replaceMany of no requests", () => store.replaceMany([])],
      [
        "replaceMany of MAX_MANY + 1 requests",
        () => store.replaceMany(Array.from({ length: MAX_MANY + 1 }, () => replace)),
      ],
      [
        "replaceMany with an empty key",
        () => store.replaceMany([replace, { ...replace, key: "" }]),
      ],
      [
        "replaceMany with a non-string expected",
        () => store.replaceMany([replace, { ...replace, expected: undefined as never }]),
      ],
      ["replaceMany with a TTL of 0", () => store.replaceMany([replace, { ...replace, ttlMs: 0 }])],
    ];
    for (const [what, call] of bad) await expectRejects(what, call, "invalid_argument");
    // The message says what to change.
    await expect(store.claimMany(tooMany)).rejects.toThrow(
      /claimMany takes 1 to 1000 requests \(got 1001\); split larger batches/,
    );

    // Nothing of the refused calls was applied, the valid requests beside a bad one included.
    for (const key of ["c1", "c2", "c3", "many:0", "many:1000"]) {
      expect(await store.read(key), key).toBeUndefined();
    }
    expect((await store.read("r"))?.value).toBe("v");
  },

  "claim-many-race": async (context) => {
    const a = await context.open();
    const b = await context.open();
    for (let round = 0; round < ROUNDS; round++) {
      // a takes keys 0–149, b keys 50–199 in reverse order: 100 keys overlap.
      const key = (i: number) => `race:${round}:${String(i).padStart(3, "0")}`;
      const aKeys = Array.from({ length: 150 }, (_, i) => key(i));
      const bKeys = Array.from({ length: 150 }, (_, i) => key(199 - i));
      const [ra, rb] = await Promise.all([
        a.claimMany(aKeys.map((k) => ({ key: k, value: "a", ttlMs: MINUTE }))),
        b.claimMany(bKeys.map((k) => ({ key: k, value: "b", ttlMs: MINUTE }))),
      ]);
      const outcome = new Map<string, ClaimResult[]>();
      for (const [keys, results] of [
        [aKeys, ra],
        [bKeys, rb],
      ] as const) {
        keys.forEach((k, i) => {
          outcome.set(k, [...(outcome.get(k) ?? []), results[i] as ClaimResult]);
        });
      }
      const held = await a.list(`race:${round}:`, { limit: 1_000 });
      expect(held.entries).toHaveLength(200);
      for (const entry of held.entries) {
        const results = outcome.get(entry.key) ?? [];
        const winners = results.filter((result) => result.claimed);
        expect(winners, `round ${round}, ${entry.key}: winners`).toHaveLength(1);
        // The loser saw the winner's value, which is what the key holds.
        for (const result of results) {
          if (!result.claimed) expect(result.holder.value, entry.key).toBe(entry.value);
        }
      }

      // Both replacing what every key holds now: on the overlap both expect the same value, and
      // exactly one replacement succeeds per key.
      const holds = new Map(held.entries.map((entry) => [entry.key, entry.value]));
      const [sa, sb] = await Promise.all([
        a.replaceMany(
          aKeys.map((k) => ({ key: k, expected: holds.get(k) ?? "", value: "a2", ttlMs: MINUTE })),
        ),
        b.replaceMany(
          bKeys.map((k) => ({ key: k, expected: holds.get(k) ?? "", value: "b2", ttlMs: MINUTE })),
        ),
      ]);
      const replaced = new Map<string, string[]>();
      aKeys.forEach((k, i) => {
        if (sa[i]) replaced.set(k, [...(replaced.get(k) ?? []), "a2"]);
      });
      bKeys.forEach((k, i) => {
        if (sb[i]) replaced.set(k, [...(replaced.get(k) ?? []), "b2"]);
      });
      const after = await b.list(`race:${round}:`, { limit: 1_000 });
      expect(after.entries).toHaveLength(200);
      for (const entry of after.entries) {
        expect(replaced.get(entry.key), `round ${round}, ${entry.key}: replacements`).toEqual([
          entry.value,
        ]);
      }
    }
  },
} satisfies Partial<Record<CoordinationCaseName, CoordinationCase>>;

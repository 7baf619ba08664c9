import { afterEach, describe, expect, it } from "vitest";
import type { Broker } from "../broker/broker.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import type { CoordinationStore } from "../coordination/coordination-store.js";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
} from "../coordination/memory/memory-coordination-store.js";
import { decodeEnvelope } from "../core/envelope.js";
import { GoTaskQError, IdempotencyKeyReusedError, UnavailableError } from "../core/errors.js";
import { silentLogger } from "../logging/logger.js";
import { defineTasks } from "../tasks/registry.js";
import { Producer, type ProducerOptions } from "./producer.js";

// Idempotent submission and unique tasks in the Producer, on the memory broker and the memory
// coordination store.

let broker: Broker;
let store: CoordinationStore;
afterEach(async () => {
  await broker.close();
  await store.close();
});

function producer(extra: Partial<ProducerOptions> = {}): Producer {
  return new Producer({ broker, coordination: store, logger: silentLogger(), ...extra });
}

async function queued(queue = "default"): Promise<number> {
  const stats = await broker.stats(queue);
  return stats.ready + stats.delayed;
}

function setUp(): void {
  broker = createMemoryBroker();
  store = createMemoryCoordinationStore();
}

describe("idempotency keys", () => {
  it("answers the first task's id, marked duplicate, for the same key and submission", async () => {
    setUp();
    const p = producer();
    const submission = {
      function_key: "demo.echo",
      payload: { a: 1, b: 2 },
      idempotency_key: "k1",
    };
    const first = await p.submit(submission);
    const again = await p.submit({ ...submission, payload: { b: 2, a: 1 } });
    expect(first.duplicate).toBe(false);
    expect(again).toMatchObject({ id: first.id, duplicate: true, created_at: first.created_at });
    expect(await queued()).toBe(1);
  });

  it("refuses the same key with a different submission (409 idempotency_key_reused)", async () => {
    setUp();
    const p = producer();
    await p.submit({ function_key: "demo.echo", payload: { a: 1 }, idempotency_key: "k1" });
    const reused = p.submit({
      function_key: "demo.echo",
      payload: { a: 2 },
      idempotency_key: "k1",
    });
    await expect(reused).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    await expect(reused).rejects.toMatchObject({ code: "idempotency_key_reused" });
    const otherPriority = p.submit({
      function_key: "demo.echo",
      payload: { a: 1 },
      priority: 9,
      idempotency_key: "k1",
    });
    await expect(otherPriority).rejects.toMatchObject({ code: "idempotency_key_reused" });
    expect(await queued()).toBe(1);
  });

  it("enqueues exactly one of 10 concurrent copies, and all answer its id", async () => {
    setUp();
    const p = producer();
    const answers = await Promise.all(
      Array.from({ length: 10 }, () =>
        p.submit({ function_key: "demo.echo", payload: {}, idempotency_key: "race" }),
      ),
    );
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(answers.filter((a) => !a.duplicate)).toHaveLength(1);
    expect(await queued()).toBe(1);
  });

  it("forgets the key after its TTL", async () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    broker = createMemoryBroker();
    store = createMemoryCoordinationStore({
      server: new MemoryCoordinationServer({ now: () => now }),
    });
    const p = producer();
    const submission = {
      function_key: "demo.echo",
      idempotency_key: "short",
      idempotency_ttl_ms: 1_000,
    };
    const first = await p.submit(submission);
    now += 1_001;
    const second = await p.submit(submission);
    expect(second.id).not.toBe(first.id);
    expect(second.duplicate).toBe(false);
  });

  it("refuses a key longer than 256 characters, saying so", async () => {
    setUp();
    const p = producer();
    await expect(
      p.submit({ function_key: "demo.echo", idempotency_key: "k".repeat(257) }),
    ).rejects.toThrow(/idempotency_key must be a string of 1 to 256 characters/);
    await p.submit({ function_key: "demo.echo", idempotency_key: "k".repeat(256) });
  });

  it("refuses with unavailable, naming the variable, when no coordination store is configured", async () => {
    broker = createMemoryBroker();
    store = createMemoryCoordinationStore();
    const p = new Producer({ broker, logger: silentLogger() });
    await expect(p.submit({ function_key: "demo.echo", idempotency_key: "k" })).rejects.toThrow(
      /GOTASKQ_COORDINATION_URL/,
    );
    // Submissions without a key never touch the store.
    await expect(p.submit({ function_key: "demo.echo" })).resolves.toMatchObject({
      duplicate: false,
    });
  });

  it("answers 503 when the store is down, and enqueues nothing", async () => {
    setUp();
    await store.close();
    const p = producer();
    const submitted = p.submit({ function_key: "demo.echo", idempotency_key: "k" });
    await expect(submitted).rejects.toMatchObject({ code: "unavailable" });
    expect(await queued()).toBe(0);
    await expect(p.submit({ function_key: "demo.echo" })).resolves.toBeDefined();
  });

  it("releases the claim when the broker refuses, so a retry enqueues at once", async () => {
    setUp();
    const real = broker.publish.bind(broker);
    let fail = true;
    broker.publish = async (queue, messages) => {
      if (fail) throw new UnavailableError("broker down");
      return real(queue, messages);
    };
    const p = producer();
    const submission = { function_key: "demo.echo", idempotency_key: "retry-me" };
    await expect(p.submit(submission)).rejects.toMatchObject({ code: "unavailable" });
    fail = false;
    const retried = await p.submit(submission);
    expect(retried.duplicate).toBe(false);
    expect(await queued()).toBe(1);
  });

  it("takes over a dead producer's pending claim once it expires, reusing its task id", async () => {
    setUp();
    let dyingId: string | undefined;
    const dying = producer({
      claimTiming: { pendingTtlMs: 200 },
      // Never publishes: this producer "dies" between the claim and the publish.
      afterClaimForTests: async (id) => {
        dyingId = id;
        await new Promise(() => undefined);
      },
    });
    void dying.submit({ function_key: "demo.echo", idempotency_key: "crash" });
    while (dyingId === undefined) await new Promise((r) => setTimeout(r, 5));
    const heir = producer({ claimTiming: { pendingTtlMs: 200, pollMs: 10 } });
    const started = Date.now();
    const retried = await heir.submit({ function_key: "demo.echo", idempotency_key: "crash" });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(retried).toMatchObject({ id: dyingId, duplicate: false });
    expect(await queued()).toBe(1);
    const again = await heir.submit({ function_key: "demo.echo", idempotency_key: "crash" });
    expect(again).toMatchObject({ id: dyingId, duplicate: true });
  });

  it("keeps the key's task id for its whole TTL: the remaining window re-enqueues under that id", async () => {
    let now = Date.parse("2026-12-01T00:00:00Z");
    broker = createMemoryBroker();
    store = createMemoryCoordinationStore({
      server: new MemoryCoordinationServer({ now: () => now }),
    });
    // The store fails exactly when the producer marks the key done: as if it died right after
    // the broker confirmed.
    const failing = Object.create(store) as CoordinationStore;
    failing.replaceMany = async () => {
      throw new UnavailableError("store away");
    };
    const first = await producer({ coordination: failing, now: () => now }).submit({
      function_key: "demo.echo",
      idempotency_key: "window",
    });
    now += 3_600_000;
    const retried = await producer({ now: () => now }).submit({
      function_key: "demo.echo",
      idempotency_key: "window",
    });
    expect(retried).toMatchObject({ id: first.id, duplicate: false });
    expect(await queued()).toBe(2);
    const third = await producer({ now: () => now }).submit({
      function_key: "demo.echo",
      idempotency_key: "window",
    });
    expect(third).toMatchObject({ id: first.id, duplicate: true });
  });

  it("takes a batch's keys in one claimMany and settles them in one replaceMany", async () => {
    setUp();
    const calls: string[] = [];
    const counting = Object.create(store) as CoordinationStore;
    for (const name of ["claim", "claimMany", "replace", "replaceMany", "release"] as const) {
      const original = store[name].bind(store) as (...args: unknown[]) => Promise<unknown>;
      (counting as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
        calls.push(name);
        return original(...args);
      };
    }
    const items = Array.from({ length: 500 }, (_, n) => ({
      function_key: "demo.echo",
      payload: { n },
      idempotency_key: `batch-${n}`,
      ...(n % 2 === 0 ? { unique: { until: "started" } } : {}),
    }));
    const results = await producer({ coordination: counting }).submitBatch(items);
    expect(results.every((r) => r.ok && !r.task.duplicate)).toBe(true);
    expect(await queued()).toBe(500);
    // Idempotency keys, then the unique keys of the items that carry one: one call each.
    expect(calls).toEqual(["claimMany", "claimMany", "replaceMany"]);
  });

  it("answers each batch item on its own: new, duplicate, reused", async () => {
    setUp();
    const p = producer();
    const first = await p.submit({ function_key: "demo.echo", idempotency_key: "a" });
    const results = await p.submitBatch([
      { function_key: "demo.echo", idempotency_key: "a" },
      { function_key: "demo.echo", idempotency_key: "b" },
      { function_key: "demo.echo", idempotency_key: "b" },
      { function_key: "demo.echo", payload: { x: 1 }, idempotency_key: "b" },
      { function_key: "demo.echo" },
    ]);
    expect(results[0]).toMatchObject({ ok: true, task: { id: first.id, duplicate: true } });
    expect(results[1]).toMatchObject({ ok: true, task: { duplicate: false } });
    const second = results[1]?.ok ? results[1].task.id : "";
    expect(results[2]).toMatchObject({ ok: true, task: { id: second, duplicate: true } });
    expect(results[3]).toMatchObject({ ok: false, error: { code: "idempotency_key_reused" } });
    expect(results[4]).toMatchObject({ ok: true, task: { duplicate: false } });
    expect(await queued()).toBe(3);
  });
});

describe("unique tasks", () => {
  it("answers the queued task's id for the same unique key", async () => {
    setUp();
    const p = producer();
    const submission = {
      function_key: "report.build",
      payload: { user_id: 7, at: 1 },
      unique: { key: "{{payload.user_id}}" },
    };
    const first = await p.submit(submission);
    const second = await p.submit({ ...submission, payload: { user_id: 7, at: 2 } });
    const other = await p.submit({ ...submission, payload: { user_id: 8, at: 2 } });
    expect(second).toMatchObject({ id: first.id, duplicate: true });
    expect(other.duplicate).toBe(false);
    expect(await queued()).toBe(2);
  });

  it("carries the key and until in the envelope for the worker to release", async () => {
    setUp();
    const p = producer();
    await p.submit({
      function_key: "report.build",
      payload: { r: "x" },
      metadata: { tenant: "acme" },
      unique: { key: "{{metadata.tenant}}:{{payload.r}}", until: "finished" },
    });
    const body = await new Promise<Uint8Array>((resolve) => {
      void broker.consume(["default"], { prefetch: 1, leaseMs: 30_000 }, (d) => resolve(d.body));
    });
    const envelope = decodeEnvelope(body);
    expect(envelope.unique).toEqual({ key: "report.build:acme:x", until: "finished" });
  });

  it("applies a function's unique option when the submission gives none", async () => {
    setUp();
    const registry = defineTasks({
      "report.build": { handler: async () => null, unique: { key: "{{payload.u}}" } },
    });
    const p = producer({ registry });
    const first = await p.submit({ function_key: "report.build", payload: { u: 1 } });
    const second = await p.submit({ function_key: "report.build", payload: { u: 1, z: 2 } });
    expect(second).toMatchObject({ id: first.id, duplicate: true });
  });

  it("defaults the key to the function and its canonical payload", async () => {
    setUp();
    const p = producer();
    const a = await p.submit({ function_key: "f", payload: { x: 1, y: 2 }, unique: {} });
    const b = await p.submit({ function_key: "f", payload: { y: 2, x: 1 }, unique: {} });
    const c = await p.submit({ function_key: "g", payload: { y: 2, x: 1 }, unique: {} });
    expect(b).toMatchObject({ id: a.id, duplicate: true });
    expect(c.duplicate).toBe(false);
  });

  it("refuses invalid templates with what to change", async () => {
    setUp();
    const p = producer();
    const bad = (key: string, payload: unknown = { a: 1 }) =>
      p.submit({ function_key: "f", payload, unique: { key } });
    await expect(bad("{{payload.a")).rejects.toThrow(/unclosed "\{\{"/);
    await expect(bad("{{body.a}}")).rejects.toThrow(/must start with payload or metadata/);
    await expect(bad("{{payload.b}}")).rejects.toThrow(/add payload.b to the payload/);
    await expect(bad("a}}")).rejects.toThrow(/without a matching/);
    await expect(p.submit({ function_key: "f", unique: { until: "done" } })).rejects.toThrow(
      /unique.until must be "started" or "finished"/,
    );
    expect(await queued()).toBe(0);
  });

  it("answers 1,000 concurrent submissions of one key with 1 task and 999 duplicates", async () => {
    setUp();
    const p = producer();
    const answers = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        p.submit({ function_key: "f", payload: { n: i, k: 1 }, unique: { key: "{{payload.k}}" } }),
      ),
    );
    expect(answers.filter((a) => a.duplicate)).toHaveLength(999);
    expect(new Set(answers.map((a) => a.id)).size).toBe(1);
    expect(await queued()).toBe(1);
  });

  it("lets the idempotency key answer the unique holder's id", async () => {
    setUp();
    const p = producer();
    const first = await p.submit({ function_key: "f", payload: { k: 1 }, unique: {} });
    const keyed = { function_key: "f", payload: { k: 1 }, unique: {}, idempotency_key: "i" };
    const second = await p.submit(keyed);
    const third = await p.submit(keyed);
    expect(second).toMatchObject({ id: first.id, duplicate: true });
    expect(third).toMatchObject({ id: first.id, duplicate: true });
  });

  it("is a GoTaskQError for every refusal (never a crash)", async () => {
    setUp();
    const p = producer();
    await expect(p.submit({ function_key: "f", unique: "yes" })).rejects.toBeInstanceOf(
      GoTaskQError,
    );
  });
});

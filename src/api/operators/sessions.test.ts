import { describe, expect, it } from "vitest";
import type { CoordinationStore } from "../../coordination/coordination-store.js";
import {
  createMemoryCoordinationStore,
  MemoryCoordinationServer,
} from "../../coordination/memory/memory-coordination-store.js";
import { UnavailableError } from "../../core/errors.js";
import { csrfTokenMatches, SessionStore } from "./sessions.js";

// Sessions on the memory coordination store. Two SessionStores on one MemoryCoordinationServer
// play two API replicas on one shared store; one clock drives both the store's TTLs and the
// replicas' absolute limit.

function cluster(start = 1_000_000) {
  let now = start;
  const server = new MemoryCoordinationServer({ now: () => now });
  const stores: CoordinationStore[] = [];
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    store: () => {
      const store = createMemoryCoordinationStore({ server, prefix: "test" });
      stores.push(store);
      return store;
    },
  };
}

/** `store` with some operations replaced (the others answer as the store does). */
function overriding(store: CoordinationStore, overrides: Partial<CoordinationStore>) {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return Reflect.get(overrides, property);
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Counts the writes that reach the store. */
function countingWrites(store: CoordinationStore) {
  let writes = 0;
  const counted = overriding(store, {
    put: (...args) => {
      writes += 1;
      return store.put(...args);
    },
    replace: (...args) => {
      writes += 1;
      return store.replace(...args);
    },
  });
  return { store: counted, writes: () => writes };
}

describe("dashboard sessions in the coordination store", () => {
  it("issues opaque 256-bit ids and CSRF tokens, and finds the session by id only", async () => {
    const sessions = new SessionStore(cluster().store());
    const { id, session } = await sessions.create("alice", "operator");
    expect(Buffer.from(id, "base64url")).toHaveLength(32);
    expect(Buffer.from(session.csrfToken, "base64url")).toHaveLength(32);
    expect(id).not.toBe(session.csrfToken);
    expect(await sessions.touch(id)).toEqual(session);
    expect(await sessions.touch(`${id}x`)).toBeUndefined();
    expect(await sessions.touch(undefined)).toBeUndefined();
    expect(await sessions.touch("")).toBeUndefined();
    expect(await sessions.touch("x".repeat(200))).toBeUndefined();
    expect((await sessions.create("alice", "operator")).id).not.toBe(id);
  });

  it("stores neither the session id nor anything but name, role, CSRF token and login time", async () => {
    const store = cluster().store();
    const { id, session } = await new SessionStore(store).create("alice", "viewer");
    const { entries } = await store.list("", { limit: 10 });
    expect(entries).toHaveLength(1);
    const [entry] = entries;
    expect(entry?.key).not.toContain(id);
    expect(entry?.value).not.toContain(id);
    expect(JSON.parse(entry?.value ?? "")).toEqual({
      operator: "alice",
      role: "viewer",
      csrf_token: session.csrfToken,
      created_at: session.createdAt,
    });
  });

  it("is seen by another replica at once, and a logout on one ends it on the other", async () => {
    const c = cluster();
    const a = new SessionStore(c.store());
    const b = new SessionStore(c.store());
    const { id, session } = await a.create("alice", "operator");
    expect(await b.touch(id)).toEqual(session);
    await b.destroy(id);
    expect(await a.touch(id)).toBeUndefined();
    expect(await a.peek(id)).toBeUndefined();
  });

  it("ends a session after the idle time without requests; requests keep it alive", async () => {
    const c = cluster();
    const sessions = new SessionStore(c.store(), { idleMs: 1_000, absoluteMs: 60_000, now: c.now });
    const { id } = await sessions.create("alice", "viewer");
    // Well past the idle time in all, with a request every 500 ms.
    for (let i = 0; i < 10; i += 1) {
      c.advance(500);
      expect(await sessions.touch(id), `request ${i}`).toBeDefined();
    }
    c.advance(999);
    expect(await sessions.peek(id)).toBeDefined();
    c.advance(1); // 1,000 ms since the last request: peek did not extend it
    expect(await sessions.touch(id)).toBeUndefined();
  });

  it("restarts the idle TTL only once a tenth of it has passed, not on every request", async () => {
    const c = cluster();
    const { store, writes } = countingWrites(c.store());
    const sessions = new SessionStore(store, { idleMs: 10_000, absoluteMs: 60_000, now: c.now });
    const { id } = await sessions.create("alice", "viewer");
    expect(writes()).toBe(1);
    for (let i = 0; i < 10; i += 1) {
      c.advance(100); // 1 s in all: exactly a tenth, not more
      await sessions.touch(id);
    }
    expect(writes()).toBe(1);
    c.advance(1);
    await sessions.touch(id);
    expect(writes()).toBe(2);
    // The restart counts from that request: 10 s of idleness from here, not from the login.
    c.advance(9_999);
    expect(await sessions.peek(id)).toBeDefined();
    c.advance(1);
    expect(await sessions.peek(id)).toBeUndefined();
  });

  it("ends a session at the absolute limit however busy it is", async () => {
    const c = cluster();
    const sessions = new SessionStore(c.store(), { idleMs: 1_000, absoluteMs: 3_000, now: c.now });
    const { id } = await sessions.create("alice", "viewer");
    for (let i = 0; i < 5; i += 1) {
      c.advance(500);
      expect(await sessions.touch(id)).toBeDefined();
    }
    c.advance(499);
    expect(await sessions.touch(id)).toBeDefined();
    c.advance(1);
    expect(await sessions.touch(id)).toBeUndefined();
  });

  it("does not bring back a session logged out between its read and its refresh", async () => {
    const c = cluster();
    const store = c.store();
    let logout: (() => Promise<unknown>) | undefined;
    const raced = overriding(store, {
      replace: async (...args) => {
        await logout?.();
        return store.replace(...args);
      },
    });
    const replica = new SessionStore(raced, { idleMs: 1_000, now: c.now });
    const other = new SessionStore(store, { idleMs: 1_000, now: c.now });
    const { id } = await other.create("alice", "viewer");
    c.advance(500);
    logout = () => other.destroy(id);
    expect(await replica.touch(id)).toBeUndefined();
    expect(await other.peek(id)).toBeUndefined();
  });

  it("ends every session of one operator, and only theirs", async () => {
    const c = cluster();
    const sessions = new SessionStore(c.store());
    const a = (await sessions.create("alice", "operator")).id;
    const bobs = await Promise.all(
      Array.from({ length: 1_200 }, () => sessions.create("bob", "viewer")),
    );
    await sessions.destroyOperator("bob");
    expect(await sessions.peek(a)).toBeDefined();
    for (const b of [bobs[0], bobs[600], bobs[1_199]]) {
      expect(await sessions.peek(b?.id)).toBeUndefined();
    }
  });

  it("treats a record that does not decode as no session", async () => {
    const store = cluster().store();
    const sessions = new SessionStore(store);
    const { id } = await sessions.create("alice", "operator");
    const [entry] = (await store.list("", { limit: 1 })).entries;
    await store.put(entry?.key ?? "", '{"operator":"alice"}', 60_000);
    expect(await sessions.touch(id)).toBeUndefined();
  });

  it("rejects with unavailable, saying the session store is unreachable, when the store is down", async () => {
    const store = cluster().store();
    const sessions = new SessionStore(store);
    const { id } = await sessions.create("alice", "operator");
    await store.close();
    const refused = sessions.touch(id);
    await expect(refused).rejects.toBeInstanceOf(UnavailableError);
    await expect(refused).rejects.toThrow(/coordination store .* cannot be reached/);
    await expect(sessions.create("bob", "viewer")).rejects.toMatchObject({ code: "unavailable" });
    await expect(sessions.destroy(id)).rejects.toMatchObject({ code: "unavailable" });
  });

  it("accepts only the session's own CSRF token", async () => {
    const sessions = new SessionStore(cluster().store());
    const { session } = await sessions.create("alice", "operator");
    const other = (await sessions.create("alice", "operator")).session;
    expect(csrfTokenMatches(session, session.csrfToken)).toBe(true);
    expect(csrfTokenMatches(session, [session.csrfToken])).toBe(true);
    expect(csrfTokenMatches(session, other.csrfToken)).toBe(false);
    expect(csrfTokenMatches(session, undefined)).toBe(false);
    expect(csrfTokenMatches(session, "")).toBe(false);
    expect(csrfTokenMatches(session, `${session.csrfToken}=`)).toBe(false);
  });
});

import { describe, expect, it } from "vitest";
import { LoginThrottle } from "./login-throttle.js";
import { csrfTokenMatches, SessionStore } from "./sessions.js";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("dashboard sessions", () => {
  it("issues opaque 256-bit ids and CSRF tokens, and finds the session by id only", () => {
    const store = new SessionStore();
    const { id, session } = store.create("alice", "operator");
    expect(Buffer.from(id, "base64url")).toHaveLength(32);
    expect(Buffer.from(session.csrfToken, "base64url")).toHaveLength(32);
    expect(id).not.toBe(session.csrfToken);
    expect(store.touch(id)).toBe(session);
    expect(store.touch(`${id}x`)).toBeUndefined();
    expect(store.touch(undefined)).toBeUndefined();
    expect(store.touch("")).toBeUndefined();
    expect(store.create("alice", "operator").id).not.toBe(id);
  });

  it("ends a session after the idle time without requests, and restarts it on each request", () => {
    const c = clock();
    const store = new SessionStore({ idleMs: 1_000, absoluteMs: 10_000, now: c.now });
    const { id } = store.create("alice", "viewer");
    c.advance(900);
    expect(store.touch(id)).toBeDefined();
    c.advance(900);
    expect(store.peek(id)).toBeDefined();
    c.advance(100); // 1,000 ms since the last touch: peek does not extend
    expect(store.touch(id)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("ends a session at the absolute limit however busy it is", () => {
    const c = clock();
    const store = new SessionStore({ idleMs: 1_000, absoluteMs: 3_000, now: c.now });
    const { id } = store.create("alice", "viewer");
    for (let i = 0; i < 5; i += 1) {
      c.advance(500);
      expect(store.touch(id)).toBeDefined();
    }
    c.advance(500);
    expect(store.touch(id)).toBeUndefined();
  });

  it("logs out one session, or every session of an operator, and bounds how many it holds", () => {
    const store = new SessionStore({ maxSessions: 3 });
    const a = store.create("alice", "operator").id;
    const b = store.create("bob", "viewer").id;
    const b2 = store.create("bob", "viewer").id;
    store.destroy(a);
    expect(store.touch(a)).toBeUndefined();
    expect(store.touch(b)).toBeDefined();
    store.destroyOperator("bob");
    expect(store.touch(b)).toBeUndefined();
    expect(store.touch(b2)).toBeUndefined();
    const ids = Array.from({ length: 5 }, () => store.create("carol", "viewer").id);
    expect(store.size).toBe(3);
    expect(store.touch(ids[0])).toBeUndefined();
    expect(store.touch(ids[4])).toBeDefined();
  });

  it("accepts only the session's own CSRF token", () => {
    const store = new SessionStore();
    const { session } = store.create("alice", "operator");
    const other = store.create("alice", "operator").session;
    expect(csrfTokenMatches(session, session.csrfToken)).toBe(true);
    expect(csrfTokenMatches(session, [session.csrfToken])).toBe(true);
    expect(csrfTokenMatches(session, other.csrfToken)).toBe(false);
    expect(csrfTokenMatches(session, undefined)).toBe(false);
    expect(csrfTokenMatches(session, "")).toBe(false);
    expect(csrfTokenMatches(session, `${session.csrfToken}=`)).toBe(false);
  });
});

describe("login throttle", () => {
  it("allows `burst` failures, then refuses with the wait until the next attempt", () => {
    const c = clock();
    const throttle = new LoginThrottle({ burst: 3, refillPerSecond: 0.5, now: c.now });
    for (let i = 0; i < 3; i += 1) {
      expect(throttle.retryAfterSeconds("ip:1")).toBe(0);
      throttle.failed("ip:1");
    }
    expect(throttle.retryAfterSeconds("ip:1")).toBe(2);
    expect(throttle.retryAfterSeconds("ip:2")).toBe(0);
    c.advance(1_000);
    expect(throttle.retryAfterSeconds("ip:1")).toBe(1);
    c.advance(1_000);
    expect(throttle.retryAfterSeconds("ip:1")).toBe(0);
  });

  it("forgets keys whose bucket refilled when it holds too many", () => {
    const c = clock();
    const throttle = new LoginThrottle({ burst: 1, refillPerSecond: 1, maxKeys: 2, now: c.now });
    throttle.failed("a");
    throttle.failed("b");
    throttle.failed("c");
    expect(throttle.retryAfterSeconds("c")).toBe(1);
    c.advance(2_000);
    throttle.failed("d");
    expect(throttle.retryAfterSeconds("d")).toBe(1);
    expect(throttle.retryAfterSeconds("a")).toBe(0);
  });
});

import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { OperatorRole } from "./operators-file.js";

// Dashboard sessions, in memory in the API process (an API replica restart logs operators out;
// with several replicas, put sticky sessions in front or log in per replica). A session id is
// 256 random bits, sent only in the HttpOnly cookie; the map is keyed by its SHA-256, so the
// ids themselves are never held. Each session carries its own CSRF token (256 bits) that the
// SPA sends back in X-CSRF-Token on every state-changing request.
//
// Expiry: idle (default 30 min without a request) and absolute (default 12 h after login),
// whichever comes first. Memory is bounded: past `maxSessions` the oldest sessions are dropped.

export interface Session {
  operator: string;
  role: OperatorRole;
  csrfToken: string;
  /** Epoch ms. */
  createdAt: number;
  lastSeenAt: number;
}

export interface SessionStoreOptions {
  /** A session unused this long ends (ms). Default 30 minutes. */
  idleMs?: number;
  /** A session ends this long after login whatever its use (ms). Default 12 hours. */
  absoluteMs?: number;
  /** Sessions held at most; the oldest go first. Default 10,000. */
  maxSessions?: number;
  /** Clock (tests). Default Date.now. */
  now?: () => number;
}

const SWEEP_INTERVAL_MS = 60_000;

function digest(id: string): string {
  return createHash("sha256").update(id, "utf8").digest("base64url");
}

export class SessionStore {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #sessions = new Map<string, Session>();
  #sweptAt: number;

  constructor(options: SessionStoreOptions = {}) {
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.absoluteMs = options.absoluteMs ?? 12 * 3_600_000;
    this.#max = options.maxSessions ?? 10_000;
    this.#now = options.now ?? Date.now;
    this.#sweptAt = this.#now();
  }

  /** Opens a session; returns its id (for the cookie only) and the session. */
  create(operator: string, role: OperatorRole): { id: string; session: Session } {
    const now = this.#now();
    this.#sweep(now);
    const id = randomBytes(32).toString("base64url");
    const session: Session = {
      operator,
      role,
      csrfToken: randomBytes(32).toString("base64url"),
      createdAt: now,
      lastSeenAt: now,
    };
    this.#sessions.set(digest(id), session);
    // Map order is insertion order: the first entries are the oldest sessions.
    for (const key of this.#sessions.keys()) {
      if (this.#sessions.size <= this.#max) break;
      this.#sessions.delete(key);
    }
    return { id, session };
  }

  /** The live session of `id` (its idle timer restarts), or undefined. */
  touch(id: string | undefined): Session | undefined {
    const session = this.peek(id);
    if (session) session.lastSeenAt = this.#now();
    return session;
  }

  /** The live session of `id` without extending it (an open event stream is not activity). */
  peek(id: string | undefined): Session | undefined {
    if (id === undefined || id.length === 0 || id.length > 128) return undefined;
    const now = this.#now();
    if (now - this.#sweptAt >= SWEEP_INTERVAL_MS) this.#sweep(now);
    const key = digest(id);
    const session = this.#sessions.get(key);
    if (!session) return undefined;
    if (this.#expired(session, now)) {
      this.#sessions.delete(key);
      return undefined;
    }
    return session;
  }

  destroy(id: string | undefined): void {
    if (id !== undefined) this.#sessions.delete(digest(id));
  }

  /** Ends every session of an operator (removed, or its role changed). */
  destroyOperator(operator: string): void {
    for (const [key, s] of this.#sessions) if (s.operator === operator) this.#sessions.delete(key);
  }

  get size(): number {
    return this.#sessions.size;
  }

  #expired(s: Session, now: number): boolean {
    return now - s.lastSeenAt >= this.idleMs || now - s.createdAt >= this.absoluteMs;
  }

  #sweep(now: number): void {
    this.#sweptAt = now;
    for (const [key, s] of this.#sessions) if (this.#expired(s, now)) this.#sessions.delete(key);
  }
}

/** Compares a presented CSRF token with the session's in constant time. */
export function csrfTokenMatches(session: Session, presented: unknown): boolean {
  const value = Array.isArray(presented) ? presented[0] : presented;
  if (typeof value !== "string" || value.length === 0) return false;
  const a = Buffer.from(value, "utf8");
  const b = Buffer.from(session.csrfToken, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

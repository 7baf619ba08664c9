import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Entry } from "../../coordination/coordination-store.js";
import { type DashboardStore, onCoordinationStore } from "./coordination-access.js";
import type { OperatorRole } from "./operators-file.js";

// Dashboard sessions, as records in the coordination store, so every API replica sees a login at
// once and refuses a logged-out cookie at once (no sticky sessions; a restart logs nobody out).
// A session id is 256 random bits, sent only in the HttpOnly cookie; the record's key is the id's
// SHA-256, so a dump of the store yields no cookie that would sign anyone in. The record holds
// what a request needs (operator name, role at login, CSRF token, login time), never a password
// hash. Each session carries its own CSRF token (256 bits) that the SPA sends back in
// X-CSRF-Token on every state-changing request.
//
// Expiry: idle (default 30 min without a request) and absolute (default 12 h after login),
// whichever comes first, both as the record's TTL by the store's clock: an expired session is
// simply absent on every replica. Sliding the idle timer on every request would be a store write
// per request, so a lookup restarts the TTL only once `refreshFraction` (default 1/10) of the idle
// time has passed since the last restart: an idle session then ends between 27 and 30 minutes
// after its last request, and a busy one costs at most one write per 3 minutes. The absolute
// limit counts from `createdAt` by the API process's clock (replicas' clocks agree to well
// under the 12 h it measures).

export interface Session {
  operator: string;
  role: OperatorRole;
  csrfToken: string;
  /** Login time, epoch ms. */
  createdAt: number;
}

export interface SessionStoreOptions {
  /** A session unused this long ends (ms). Default 30 minutes. */
  idleMs?: number;
  /** A session ends this long after login whatever its use (ms). Default 12 hours. */
  absoluteMs?: number;
  /** Share of `idleMs` that passes before a lookup restarts the idle TTL. Default 0.1. */
  refreshFraction?: number;
  /** Clock for the absolute limit (tests). Default Date.now. */
  now?: () => number;
}

const KEY_PREFIX = "dashboard:session:";
const MAX_ID_LENGTH = 128;
const LIST_PAGE = 500;

function keyOf(id: string): string {
  return KEY_PREFIX + createHash("sha256").update(id, "utf8").digest("base64url");
}

function encode(session: Session): string {
  return JSON.stringify({
    operator: session.operator,
    role: session.role,
    csrf_token: session.csrfToken,
    created_at: session.createdAt,
  });
}

/** The stored record, or undefined for anything that is not one (treated as no session). */
function decode(value: string): Session | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof raw !== "object" || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (
    typeof r.operator !== "string" ||
    (r.role !== "viewer" && r.role !== "operator") ||
    typeof r.csrf_token !== "string" ||
    typeof r.created_at !== "number"
  ) {
    return undefined;
  }
  return { operator: r.operator, role: r.role, csrfToken: r.csrf_token, createdAt: r.created_at };
}

interface Found {
  key: string;
  entry: Entry;
  session: Session;
}

export class SessionStore {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly #store: DashboardStore;
  readonly #refreshAfterMs: number;
  readonly #now: () => number;

  constructor(store: DashboardStore, options: SessionStoreOptions = {}) {
    this.#store = store;
    this.idleMs = options.idleMs ?? 30 * 60_000;
    this.absoluteMs = options.absoluteMs ?? 12 * 3_600_000;
    this.#refreshAfterMs = this.idleMs * (options.refreshFraction ?? 0.1);
    this.#now = options.now ?? Date.now;
  }

  /** Opens a session; returns its id (for the cookie only) and the session. */
  async create(operator: string, role: OperatorRole): Promise<{ id: string; session: Session }> {
    const id = randomBytes(32).toString("base64url");
    const session: Session = {
      operator,
      role,
      csrfToken: randomBytes(32).toString("base64url"),
      createdAt: this.#now(),
    };
    await onCoordinationStore("cannot open a dashboard session", () =>
      this.#store.put(keyOf(id), encode(session), Math.min(this.idleMs, this.absoluteMs)),
    );
    return { id, session };
  }

  /** The live session of `id`, its idle timer restarted when due; undefined when it ended. */
  async touch(id: string | undefined): Promise<Session | undefined> {
    const found = await this.#find(id);
    if (!found) return undefined;
    const { key, entry, session } = found;
    const ttlMs = this.#ttl(session);
    if (ttlMs - entry.ttlMs <= this.#refreshAfterMs) return session;
    // replace, not put: a logout on another replica between the read and here must stay a
    // logout, and a concurrent refresh of the same value is as good as this one.
    const kept = await onCoordinationStore("cannot check the dashboard session", () =>
      this.#store.replace(key, entry.value, entry.value, ttlMs),
    );
    return kept ? session : (await this.#find(id))?.session;
  }

  /** The live session of `id` without extending it (an open event stream is not activity). */
  async peek(id: string | undefined): Promise<Session | undefined> {
    return (await this.#find(id))?.session;
  }

  /** Ends the session of `id` on every replica. */
  async destroy(id: string | undefined): Promise<void> {
    if (id === undefined || id.length === 0 || id.length > MAX_ID_LENGTH) return;
    await onCoordinationStore("cannot end the dashboard session", () =>
      this.#store.release(keyOf(id)),
    );
  }

  /**
   * Ends every session of an operator (removed from the operators file): a scan of the session
   * records, which is rare (once per removal) and bounded by the live sessions.
   */
  async destroyOperator(operator: string): Promise<void> {
    await onCoordinationStore("cannot end the operator's dashboard sessions", async () => {
      let after: string | undefined;
      do {
        const page = await this.#store.list(KEY_PREFIX, {
          limit: LIST_PAGE,
          ...(after !== undefined ? { after } : {}),
        });
        for (const e of page.entries) {
          if (decode(e.value)?.operator === operator) await this.#store.release(e.key, e.value);
        }
        after = page.nextAfter;
      } while (after !== undefined);
    });
  }

  /** Milliseconds the session may live from now: the idle time, capped by the absolute limit. */
  #ttl(session: Session): number {
    return Math.min(this.idleMs, session.createdAt + this.absoluteMs - this.#now());
  }

  async #find(id: string | undefined): Promise<Found | undefined> {
    if (id === undefined || id.length === 0 || id.length > MAX_ID_LENGTH) return undefined;
    const key = keyOf(id);
    const entry = await onCoordinationStore("cannot check the dashboard session", () =>
      this.#store.read(key),
    );
    if (!entry) return undefined;
    const session = decode(entry.value);
    if (!session) return undefined;
    if (this.#ttl(session) < 1) {
      await onCoordinationStore("cannot end the dashboard session", () =>
        this.#store.release(key, entry.value),
      );
      return undefined;
    }
    return { key, entry, session };
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

import type { FastifyReply, FastifyRequest } from "fastify";
import { GoTaskQError } from "../../core/errors.js";
import type { Principal, Scope } from "../auth/scopes.js";
import { type CoordinationSource, storeOf } from "../operators/coordination-access.js";
import { LoginThrottle } from "../operators/login-throttle.js";
import type { Operator, OperatorDirectory } from "../operators/operator-directory.js";
import type { OperatorRole } from "../operators/operators-file.js";
import { csrfTokenMatches, type Session, SessionStore } from "../operators/sessions.js";

// The dashboard's side of authentication on the REST server: the session cookie set by
// POST /auth/login, and the CSRF rule for requests authenticated by it. An API key, when one is
// presented, always wins over a cookie (scripts keep working exactly as before, and a request
// carrying a key was not forged by a browser: no site can make a browser add that header).
//
// CSRF: the cookie is SameSite=Strict, and on top of that every state-changing request made
// with it must echo the session's token in X-CSRF-Token (a header a cross-site form cannot set).
//
// Sessions and the login limits live in the coordination store. When it cannot be reached, a
// request that carries a session cookie answers 503, not 401 (a 401 sends the SPA to the login
// page over a transient fault), and so does a login (there is nowhere to record the session or
// the failed attempt). Requests with an API key never touch the store.

export const SESSION_COOKIE = "gotaskq_session";
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export const ROLE_SCOPES: Record<OperatorRole, ReadonlySet<Scope>> = {
  viewer: new Set<Scope>(["read"]),
  operator: new Set<Scope>(["read", "submit", "admin"]),
};

export interface DashboardAuth {
  directory: OperatorDirectory;
  sessions: SessionStore;
  /** Failed logins per client socket address. */
  addressThrottle: LoginThrottle;
  /** Failed logins per username (known or not). */
  usernameThrottle: LoginThrottle;
}

export interface SignedIn {
  sessionId: string;
  session: Session;
  operator: Operator;
}

export function sessionCookie(request: FastifyRequest): string | undefined {
  const value = request.cookies?.[SESSION_COOKIE];
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The signed-in operator of this request, or undefined. `touch` restarts the idle timer (a page
 * or API request); the operator is looked up again so a removed operator's sessions end and a
 * changed role applies at once. Rejects with `unavailable` when the store cannot be reached.
 */
export async function signedIn(
  request: FastifyRequest,
  dashboard: DashboardAuth,
  options: { touch: boolean } = { touch: true },
): Promise<SignedIn | undefined> {
  const sessionId = sessionCookie(request);
  if (sessionId === undefined) return undefined;
  const { sessions, directory } = dashboard;
  const session = options.touch ? await sessions.touch(sessionId) : await sessions.peek(sessionId);
  if (!session) return undefined;
  const operator = directory.lookup(session.operator);
  if (!operator) {
    await sessions.destroyOperator(session.operator);
    return undefined;
  }
  session.role = operator.role;
  return { sessionId, session, operator };
}

/**
 * Whether a long-lived stream opened by `signed` may go on, answered synchronously from what is
 * known: the operator (in memory) and the session's absolute limit at once; a logout, possibly on
 * another replica, within `recheckMs` (a store read at most that often, in the background). An
 * unreachable store keeps the last answer: a transient fault does not cut the stream.
 */
export function sessionWatch(
  dashboard: DashboardAuth,
  signed: SignedIn,
  recheckMs = 5_000,
  now: () => number = Date.now,
): () => boolean {
  let valid = true;
  let checkedAt = now();
  let checking = false;
  const endsAt = signed.session.createdAt + dashboard.sessions.absoluteMs;
  return () => {
    if (!valid) return false;
    const t = now();
    if (t >= endsAt || dashboard.directory.lookup(signed.operator.name) === undefined) {
      valid = false;
      return false;
    }
    if (!checking && t - checkedAt >= recheckMs) {
      checking = true;
      dashboard.sessions
        .peek(signed.sessionId)
        .then(
          (session) => {
            if (!session) valid = false;
          },
          () => {},
        )
        .finally(() => {
          checking = false;
          checkedAt = now();
        });
    }
    return valid;
  };
}

export function operatorPrincipal(operator: Operator): Principal {
  return { name: operator.name, scopes: ROLE_SCOPES[operator.role], operatorRole: operator.role };
}

/** 403 unless a state-changing request carries the session's CSRF token. */
export function requireCsrf(request: FastifyRequest, session: Session): void {
  if (SAFE_METHODS.has(request.method)) return;
  if (csrfTokenMatches(session, request.headers[CSRF_HEADER])) return;
  throw new GoTaskQError(
    "permission_denied",
    "missing or wrong X-CSRF-Token header: requests made with the dashboard session cookie must send the csrf_token returned by POST /auth/login or GET /auth/session",
  );
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, id: string): void {
  reply.setCookie(SESSION_COOKIE, id, {
    httpOnly: true,
    sameSite: "strict",
    path: "/",
    secure: request.protocol === "https",
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: "strict",
    path: "/",
    secure: request.protocol === "https",
  });
}

export const SESSION_ENDED =
  "dashboard session expired or unknown; log in again (POST /auth/login) or send an API key";

/**
 * The dashboard's auth state on the coordination store of `coordination` (the process's, opened
 * on first use) with the default limits: 5 failed logins per username, then one per 12 s; 20
 * per client address, then one per 3 s; sessions idle 30 min, absolute 12 h.
 */
export function createDashboardAuth(
  directory: OperatorDirectory,
  coordination: CoordinationSource,
): DashboardAuth {
  const store = storeOf(coordination);
  return {
    directory,
    sessions: new SessionStore(store),
    usernameThrottle: new LoginThrottle(store, {
      name: "username",
      burst: 5,
      refillPerSecond: 1 / 12,
    }),
    addressThrottle: new LoginThrottle(store, {
      name: "address",
      burst: 20,
      refillPerSecond: 1 / 3,
    }),
  };
}

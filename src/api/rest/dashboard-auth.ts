import type { FastifyReply, FastifyRequest } from "fastify";
import { GoTaskQError } from "../../core/errors.js";
import type { Principal, Scope } from "../auth/scopes.js";
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
 * changed role applies at once.
 */
export function signedIn(
  request: FastifyRequest,
  dashboard: DashboardAuth,
  options: { touch: boolean } = { touch: true },
): SignedIn | undefined {
  const sessionId = sessionCookie(request);
  if (sessionId === undefined) return undefined;
  const { sessions, directory } = dashboard;
  const session = options.touch ? sessions.touch(sessionId) : sessions.peek(sessionId);
  if (!session) return undefined;
  const operator = directory.lookup(session.operator);
  if (!operator) {
    sessions.destroyOperator(session.operator);
    return undefined;
  }
  session.role = operator.role;
  return { sessionId, session, operator };
}

/** True while the session behind `sessionId` is valid (for long-lived streams). */
export function sessionStillValid(dashboard: DashboardAuth, signed: SignedIn): boolean {
  return (
    dashboard.sessions.peek(signed.sessionId) !== undefined &&
    dashboard.directory.lookup(signed.operator.name) !== undefined
  );
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
 * The dashboard's auth state with the default limits: 5 failed logins per username, then one
 * per 12 s; 20 per client address, then one per 3 s; sessions idle 30 min, absolute 12 h.
 */
export function createDashboardAuth(directory: OperatorDirectory): DashboardAuth {
  return {
    directory,
    sessions: new SessionStore(),
    usernameThrottle: new LoginThrottle({ burst: 5, refillPerSecond: 1 / 12 }),
    addressThrottle: new LoginThrottle({ burst: 20, refillPerSecond: 1 / 3 }),
  };
}

import { GoTaskQError } from "../../../core/errors.js";
import { RateLimitedError } from "../../errors.js";
import {
  clearSessionCookie,
  type DashboardAuth,
  requireCsrf,
  SESSION_ENDED,
  sessionCookie,
  setSessionCookie,
  signedIn,
} from "../dashboard-auth.js";
import type { RouteSpec } from "../route-spec.js";
import type { Schema } from "../schemas.js";

// /auth: the dashboard's login, session and logout. Open routes (no API key), each checking the
// session itself. Login answers the same 401 for an unknown name and a wrong password, after the
// same scrypt work, and is throttled per client socket address and per username (failed
// attempts only; 429 + Retry-After, with no scrypt work spent on a refused attempt). Sessions
// and the throttle live in the coordination store: when it is unreachable, login, session and
// logout answer 503 (see dashboard-auth.ts).

const WRONG = "wrong username or password";

const operatorSchema: Schema = {
  title: "Operator",
  type: "object",
  properties: { name: { type: "string" }, role: { type: "string", enum: ["viewer", "operator"] } },
  required: ["name", "role"],
};

const sessionSchema: Schema = {
  title: "DashboardSession",
  type: "object",
  properties: {
    operator: operatorSchema,
    csrf_token: {
      type: "string",
      description: "Send it as X-CSRF-Token on every state-changing request made with the cookie.",
    },
  },
  required: ["operator", "csrf_token"],
};

const loginBodySchema: Schema = {
  type: "object",
  additionalProperties: false,
  required: ["username", "password"],
  properties: {
    username: { type: "string", minLength: 1, maxLength: 64 },
    password: { type: "string", minLength: 1, maxLength: 1024 },
  },
};

export function authRoutes(dashboard: DashboardAuth): RouteSpec[] {
  const { directory, sessions, addressThrottle, usernameThrottle } = dashboard;
  return [
    {
      method: "POST",
      url: "/auth/login",
      operationId: "login",
      summary: "Dashboard login: sets the HttpOnly session cookie, returns the CSRF token",
      tag: "auth",
      schema: { body: loginBodySchema, response: { 200: sessionSchema } },
      errors: [401, 415, 429, 503],
      handler: async (request, reply) => {
        const { username, password } = request.body as { username: string; password: string };
        const address = request.socket.remoteAddress ?? "unknown";
        const user = username.toLowerCase();
        const wait = Math.max(
          ...(await Promise.all([
            addressThrottle.retryAfterSeconds(address),
            usernameThrottle.retryAfterSeconds(user),
          ])),
        );
        if (wait > 0) {
          throw new RateLimitedError(
            `too many failed logins from this address or for this username; retry after ${wait} s`,
            wait,
          );
        }
        const operator = await directory.verify(username, password);
        if (!operator) {
          await Promise.all([addressThrottle.failed(address), usernameThrottle.failed(user)]);
          throw new GoTaskQError("unauthenticated", WRONG);
        }
        // A session id from before the login is never reused (no session fixation).
        const previous = sessionCookie(request);
        if (previous !== undefined) await sessions.destroy(previous);
        const { id, session } = await sessions.create(operator.name, operator.role);
        setSessionCookie(request, reply, id);
        reply.header("cache-control", "no-store");
        return { operator, csrf_token: session.csrfToken };
      },
    },
    {
      method: "GET",
      url: "/auth/session",
      operationId: "getSession",
      summary: "The signed-in operator and the session's CSRF token (401 when not signed in)",
      tag: "auth",
      schema: { response: { 200: sessionSchema } },
      errors: [401, 503],
      handler: async (request, reply) => {
        const signed = await signedIn(request, dashboard);
        if (!signed) throw new GoTaskQError("unauthenticated", SESSION_ENDED);
        reply.header("cache-control", "no-store");
        return { operator: signed.operator, csrf_token: signed.session.csrfToken };
      },
    },
    {
      method: "POST",
      url: "/auth/logout",
      operationId: "logout",
      summary: "Ends the session and clears its cookie (needs X-CSRF-Token)",
      tag: "auth",
      schema: { response: { 204: { type: "null" } } },
      errors: [401, 503],
      handler: async (request, reply) => {
        const signed = await signedIn(request, dashboard, { touch: false });
        if (!signed) throw new GoTaskQError("unauthenticated", SESSION_ENDED);
        requireCsrf(request, signed.session);
        await sessions.destroy(signed.sessionId);
        clearSessionCookie(request, reply);
        reply.code(204);
        return null;
      },
    },
  ];
}

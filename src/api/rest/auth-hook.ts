import type { FastifyReply, FastifyRequest } from "fastify";
import { GoTaskQError } from "../../core/errors.js";
import { type ApiKeyVerifier, extractApiKey } from "../auth/api-key-verifier.js";
import { type Principal, requireScope } from "../auth/scopes.js";
import { RateLimitedError } from "../errors.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";
import {
  type DashboardAuth,
  operatorPrincipal,
  requireCsrf,
  SESSION_ENDED,
  type SignedIn,
  sessionCookie,
  signedIn,
} from "./dashboard-auth.js";

// The onRequest hook of every route that declares a scope: authenticate (401), spend one token
// of the caller's rate budget (429 + Retry-After), then check the scope (403). It runs before the
// body is read or parsed, so a request without a valid credential costs the server almost
// nothing and can enqueue nothing. The budget is keyed by the key's name (or the operator's),
// never by anything the client could vary (IP, headers), and is spent before the scope check so
// a caller cannot hammer routes it may not use for free.
//
// Credentials: an API key (Authorization: Bearer / X-API-Key) or, with the dashboard enabled,
// the session cookie; a cookie-authenticated state-changing request also needs its CSRF token.

declare module "fastify" {
  interface FastifyRequest {
    /** The dashboard session that authenticated this request (absent for API keys). */
    signedIn?: SignedIn;
  }
}

export function authHook(
  auth: ApiKeyVerifier,
  limiter: TokenBucketLimiter | undefined,
  dashboard?: DashboardAuth,
) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const key = extractApiKey({
      authorization: request.headers.authorization,
      apiKey: request.headers["x-api-key"],
    });
    let principal: Principal;
    let budget: string;
    if (key === undefined && dashboard && sessionCookie(request) !== undefined) {
      const signed = await signedIn(request, dashboard);
      if (!signed) throw new GoTaskQError("unauthenticated", SESSION_ENDED);
      requireCsrf(request, signed.session);
      request.signedIn = signed;
      principal = operatorPrincipal(signed.operator);
      // "#" cannot appear in an API key's name, so an operator never shares a key's bucket.
      budget = `operator#${signed.operator.name}`;
    } else {
      principal = auth.authenticate(key);
      budget = principal.name;
    }
    if (limiter) {
      const taken = limiter.take(budget);
      if (!taken.ok) {
        throw new RateLimitedError(
          `${principal.operatorRole ? "operator" : "API key"} "${principal.name}" exceeded its rate limit of ${limiter.ratePerSecond} requests/s (burst ${limiter.burst}); retry after ${taken.retryAfterSeconds} s or batch submissions with POST /v1/tasks/batch`,
          taken.retryAfterSeconds,
        );
      }
    }
    requireScope(principal, scope);
  };
}

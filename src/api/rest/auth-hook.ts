import type { FastifyReply, FastifyRequest } from "fastify";
import { type ApiKeyVerifier, extractApiKey } from "../auth/api-key-verifier.js";
import { requireScope } from "../auth/scopes.js";
import { RateLimitedError } from "../errors.js";
import type { TokenBucketLimiter } from "../rate-limiter.js";

// The onRequest hook of every route that declares a scope: authenticate (401), spend one token
// of the key's rate budget (429 + Retry-After), then check the scope (403). It runs before the
// body is read or parsed, so a request without a valid key costs the server almost nothing and
// can enqueue nothing. The budget is keyed by the key's name, never by anything the client
// could vary (IP, headers), and is spent before the scope check so a key cannot hammer routes
// it may not use for free.

export function authHook(auth: ApiKeyVerifier, limiter: TokenBucketLimiter | undefined) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const principal = auth.authenticate(
      extractApiKey({
        authorization: request.headers.authorization,
        apiKey: request.headers["x-api-key"],
      }),
    );
    if (limiter) {
      const taken = limiter.take(principal.name);
      if (!taken.ok) {
        throw new RateLimitedError(
          `API key "${principal.name}" exceeded its rate limit of ${limiter.ratePerSecond} requests/s (burst ${limiter.burst}); retry after ${taken.retryAfterSeconds} s or batch submissions with POST /v1/tasks/batch`,
          taken.retryAfterSeconds,
        );
      }
    }
    requireScope(principal, scope);
  };
}

import type { CoordinationStore } from "../../coordination/coordination-store.js";
import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// How the dashboard reaches the coordination store that holds its sessions and login limits.
//
// When the store cannot be reached the answer is a 503 that says so, never a 401: a 401 makes
// the SPA drop the operator to the login page over a transient fault, and a login could not be
// recorded anyway.

/** The operations sessions and the login throttle use; a CoordinationStore is one. */
export type DashboardStore = Pick<
  CoordinationStore,
  "put" | "read" | "replace" | "release" | "list" | "takeTokens"
>;

/** An open store, or how to get the process's store (which opens on first use). */
export type CoordinationSource = DashboardStore | (() => Promise<DashboardStore>);

/**
 * The store of `source`, asked for on every call: the process's store opens on first use and a
 * failed open is retried by the next call, so a store that is down when the server starts costs
 * the dashboard 503s until it is back, not a restart.
 */
export function storeOf(source: CoordinationSource): DashboardStore {
  if (typeof source !== "function") return source;
  return {
    put: async (...a) => (await source()).put(...a),
    read: async (...a) => (await source()).read(...a),
    replace: async (...a) => (await source()).replace(...a),
    release: async (...a) => (await source()).release(...a),
    list: async (...a) => (await source()).list(...a),
    takeTokens: async (...a) => (await source()).takeTokens(...a),
  };
}

/** Runs `operation`; an unreachable store becomes an UnavailableError that says what failed. */
export async function onCoordinationStore<T>(
  what: string,
  operation: () => Promise<T>,
): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof GoTaskQError && error.code === "unavailable") {
      throw new UnavailableError(
        `${what}: the coordination store that holds dashboard sessions cannot be reached; retry in a few seconds (a signed-in session is kept), or use an API key`,
        { cause: error },
      );
    }
    throw error;
  }
}

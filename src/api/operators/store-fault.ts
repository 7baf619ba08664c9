import { GoTaskQError, UnavailableError } from "../../core/errors.js";

// Dashboard sessions and the login throttle depend on the coordination store. When it cannot be
// reached the answer is a 503 that says so, never a 401: a 401 makes the SPA drop the operator
// to the login page over a transient fault, and a login could not be recorded anyway.

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

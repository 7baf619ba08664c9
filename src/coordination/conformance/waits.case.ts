import { expect } from "vitest";
import type { ErrorCode } from "../../core/errors.js";

// Bounded waits and error expectations shared by the coordination case files. Every wait has a
// deadline of its own, so a store that never expires anything fails with a message, not a hang.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { pollUntil } from "../../../test/support/poll-until.js";

/** Expects `call` to reject with a GoTaskQError of `code`; `what` names the call in a failure. */
export async function expectRejects(
  what: string,
  call: () => Promise<unknown>,
  code: ErrorCode,
): Promise<void> {
  let outcome: unknown;
  try {
    outcome = await call();
  } catch (error) {
    const got = (error as { code?: unknown }).code;
    expect(got, `${what}: ${String(error)}`).toBe(code);
    return;
  }
  expect.fail(`${what} resolved (${JSON.stringify(outcome)}) instead of rejecting with ${code}`);
}

/** How long past a TTL a case waits for the expiry to show: timers, polling, a loaded CI host. */
export const EXPIRY_SLACK_MS = 3_000;

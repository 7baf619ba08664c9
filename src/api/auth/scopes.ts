import { GoTaskQError, InvalidArgumentError } from "../../core/errors.js";

// What an API key may do. Scopes are independent (admin does not imply read): a key gets exactly
// the scopes it was created with, so a CI key that only submits cannot read payloads back.
// Which operation needs which scope is fixed here, once, for every transport.

export type Scope = "submit" | "read" | "admin";

export const SCOPES: readonly Scope[] = ["submit", "read", "admin"];

/** Who is calling: the key's name (never the key) and what it may do. */
export interface Principal {
  name: string;
  scopes: ReadonlySet<Scope>;
  /** Set for a dashboard operator signed in with a session cookie (absent = an API key). */
  operatorRole?: "viewer" | "operator";
}

/** The scope each TaskService operation requires. */
export const OPERATION_SCOPES = {
  submit: "submit",
  submitBatch: "submit",
  get: "read",
  list: "read",
  logs: "read",
  watch: "read",
  queues: "read",
  workers: "read",
  functions: "read",
  cancel: "admin",
  requeue: "admin",
  deadLetters: "admin",
  requeueDeadLetters: "admin",
  schedules: "read",
  manageSchedules: "admin",
} as const satisfies Record<string, Scope>;

export type Operation = keyof typeof OPERATION_SCOPES;

/** Throws permission_denied, naming the scope needed, when the principal lacks it. */
export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.scopes.has(scope)) return;
  const held = [...principal.scopes].join(",") || "none";
  if (principal.operatorRole !== undefined) {
    throw new GoTaskQError(
      "permission_denied",
      `operator "${principal.name}" has the ${principal.operatorRole} role, which cannot do this (it needs the "${scope}" scope); ask for the operator role`,
    );
  }
  throw new GoTaskQError(
    "permission_denied",
    `API key "${principal.name}" lacks the "${scope}" scope (it has: ${held}); use a key created with --scopes ${scope}`,
  );
}

export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/** "submit,read" or ["submit","read"] → scopes, de-duplicated, in canonical order. */
export function parseScopes(value: unknown): Scope[] {
  const parts = (Array.isArray(value) ? value : String(value ?? "").split(","))
    .map((s) => (typeof s === "string" ? s.trim() : s))
    .filter((s) => s !== "");
  if (parts.length === 0) {
    throw new InvalidArgumentError(`give at least one scope: ${SCOPES.join(", ")}`);
  }
  for (const part of parts) {
    if (!isScope(part)) {
      throw new InvalidArgumentError(
        `unknown scope ${JSON.stringify(part)}; scopes are ${SCOPES.join(", ")}`,
      );
    }
  }
  return SCOPES.filter((s) => parts.includes(s));
}

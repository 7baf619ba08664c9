import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { GoTaskQError, InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import { writeSecretFile } from "../secret-file.js";
import {
  checkPasswordStrength,
  hashPassword,
  type PasswordHash,
  parsePasswordHash,
} from "./password-hash.js";

// The operators file (GOTASKQ_OPERATORS_FILE, default .gotaskq/operators.json), written by
// `gotaskq operators`: who may log in to the dashboard, with which role, and the scrypt hash of
// their password (never the password). Writes are atomic (temp file + rename, mode 0600) so a
// server re-reading it never sees half of it; two `operators add` at the same instant can lose
// one of the two (run them in turn), as with the API keys file.
//
// {"version":1,"operators":[{"name":"alice","role":"operator","hash":{"algorithm":"scrypt",
//   "N":32768,"r":8,"p":1,"keylen":64,"salt":"…","hash":"…"},"created_at":"2026-…Z"}]}

export type OperatorRole = "viewer" | "operator";
export const OPERATOR_ROLES: readonly OperatorRole[] = ["viewer", "operator"];
export const OPERATOR_NAME_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

export interface OperatorRecord {
  name: string;
  role: OperatorRole;
  hash: PasswordHash;
  created_at: string;
}

/** What `operators list` shows: no hash. */
export type OperatorInfo = Omit<OperatorRecord, "hash">;

interface OperatorsFile {
  version: 1;
  operators: OperatorRecord[];
}

export function isOperatorRole(value: unknown): value is OperatorRole {
  return typeof value === "string" && (OPERATOR_ROLES as readonly string[]).includes(value);
}

export function parseOperatorRole(value: unknown): OperatorRole {
  if (isOperatorRole(value)) return value;
  throw new InvalidArgumentError(
    `role must be viewer or operator (got ${JSON.stringify(value)}); viewers read, operators also submit, cancel and requeue`,
  );
}

export function checkOperatorName(name: unknown): string {
  if (typeof name !== "string" || !OPERATOR_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `operator name must match ${OPERATOR_NAME_PATTERN.source}, e.g. "alice" (got ${JSON.stringify(name)})`,
    );
  }
  return name;
}

/** Parses the file's text; throws invalid_argument naming the file and what is wrong. */
export function parseOperatorsFile(text: string, file: string): OperatorRecord[] {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `${file} is not a valid operators file (${why}); fix it or recreate it with gotaskq operators add`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw bad((error as Error).message);
  }
  const doc = raw as Partial<OperatorsFile> | null;
  if (
    typeof doc !== "object" ||
    doc === null ||
    doc.version !== 1 ||
    !Array.isArray(doc.operators)
  ) {
    throw bad('expected {"version":1,"operators":[…]}');
  }
  return doc.operators.map((o: unknown, i) => {
    const r = o as Partial<OperatorRecord> | null;
    const hash = typeof r === "object" && r !== null ? parsePasswordHash(r.hash) : undefined;
    if (
      typeof r !== "object" ||
      r === null ||
      typeof r.name !== "string" ||
      !OPERATOR_NAME_PATTERN.test(r.name) ||
      !isOperatorRole(r.role) ||
      hash === undefined ||
      typeof r.created_at !== "string"
    ) {
      throw bad(`operators[${i}] lacks a valid name, role, scrypt hash or created_at`);
    }
    return { name: r.name, role: r.role, hash, created_at: r.created_at };
  });
}

function readError(file: string, error: unknown): GoTaskQError {
  return new GoTaskQError("unavailable", `cannot read ${file}: ${(error as Error).message}`);
}

/** The records of `file`; none when it does not exist yet. Synchronous: for the directory. */
export function readOperatorsFileSync(file: string): OperatorRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw readError(file, error);
  }
  return parseOperatorsFile(text, file);
}

async function readOperators(file: string): Promise<OperatorRecord[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw readError(file, error);
  }
  return parseOperatorsFile(text, file);
}

async function writeOperators(file: string, operators: OperatorRecord[]): Promise<void> {
  const doc: OperatorsFile = { version: 1, operators };
  await writeSecretFile(file, doc);
}

function info({ hash: _hash, ...rest }: OperatorRecord): OperatorInfo {
  return rest;
}

/**
 * Adds an operator, or with `replace` sets the password and role of an existing one. Refuses a
 * bad name or role and a weak password (the message says what to change).
 */
export async function addOperator(
  file: string,
  options: { name: string; role: unknown; password: string; replace?: boolean },
): Promise<OperatorInfo> {
  const name = checkOperatorName(options.name);
  const role = parseOperatorRole(options.role);
  checkPasswordStrength(options.password, name);
  const operators = await readOperators(file);
  const index = operators.findIndex((o) => o.name === name);
  if (index >= 0 && !options.replace) {
    throw new GoTaskQError(
      "conflict",
      `an operator named "${name}" already exists in ${file}; remove it first or pass --replace to set a new password`,
    );
  }
  const record: OperatorRecord = {
    name,
    role,
    hash: await hashPassword(options.password),
    created_at: new Date().toISOString(),
  };
  if (index >= 0) operators[index] = record;
  else operators.push(record);
  await writeOperators(file, operators);
  return info(record);
}

export async function listOperators(file: string): Promise<OperatorInfo[]> {
  return (await readOperators(file)).map(info);
}

/** Removes the named operator; a running server ends its sessions at their next request. */
export async function removeOperator(file: string, name: string): Promise<OperatorInfo> {
  const operators = await readOperators(file);
  const found = operators.find((o) => o.name === name);
  if (!found) {
    const names = operators.map((o) => o.name).join(", ") || "none";
    throw new NotFoundError(`no operator named "${name}" in ${file} (operators: ${names})`);
  }
  await writeOperators(
    file,
    operators.filter((o) => o.name !== name),
  );
  return info(found);
}

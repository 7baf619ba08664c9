import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { GoTaskQError, InvalidArgumentError, NotFoundError } from "../../core/errors.js";
import { writeSecretFile } from "../secret-file.js";
import { isScope, parseScopes, type Scope } from "./scopes.js";

// The API keys file (GOTASKQ_API_KEYS_FILE, written by `gotaskq keys`): JSON holding, per key,
// its name, scopes, dates, a short prefix to recognise it by, and the SHA-256 digest of the key.
// Never the key itself: it is shown once, at creation. A plain SHA-256 (no salt, no slow hash)
// is enough because keys are 256 random bits, not passwords: nothing to brute-force.
// Writes are atomic (temp file + rename, mode 0600), so a server re-reading the file never sees
// half of it. Two `keys create` at the same instant can lose one of the two; run them in turn.
//
// {"version":1,"keys":[{"name":"ci","prefix":"gtq_Ab12Cd34","sha256":"…","scopes":["submit"],
//   "created_at":"2026-…Z","revoked_at":"2026-…Z"}]}

/** Every key starts with this, so a leaked one is recognisable (secret scanners, logs). */
export const KEY_PREFIX = "gtq_";
const KEY_BYTES = 32;
/** Characters of the key kept in the file to tell keys apart in `keys list`. */
const SHOWN_PREFIX_LENGTH = KEY_PREFIX.length + 8;
export const KEY_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

export interface ApiKeyRecord {
  name: string;
  /** The key's first characters, e.g. gtq_Ab12Cd34 (not enough to use it). */
  prefix: string;
  /** Hex SHA-256 of the whole key. */
  sha256: string;
  scopes: Scope[];
  created_at: string;
  revoked_at?: string;
}

/** A record as `keys list` shows it: no digest. */
export type ApiKeyInfo = Omit<ApiKeyRecord, "sha256">;

interface KeysFile {
  version: 1;
  keys: ApiKeyRecord[];
}

export function digestKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

function info({ sha256: _digest, ...rest }: ApiKeyRecord): ApiKeyInfo {
  return rest;
}

/** Parses the file's text; throws invalid_argument naming the file and what is wrong. */
export function parseKeysFile(text: string, file: string): ApiKeyRecord[] {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `${file} is not a valid API keys file (${why}); fix it or recreate it with gotaskq keys create`,
    );
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw bad((error as Error).message);
  }
  const doc = raw as Partial<KeysFile> | null;
  if (typeof doc !== "object" || doc === null || doc.version !== 1 || !Array.isArray(doc.keys)) {
    throw bad('expected {"version":1,"keys":[…]}');
  }
  return doc.keys.map((k: unknown, i) => {
    const r = k as Partial<ApiKeyRecord> | null;
    const ok =
      typeof r === "object" &&
      r !== null &&
      typeof r.name === "string" &&
      typeof r.prefix === "string" &&
      typeof r.sha256 === "string" &&
      /^[0-9a-f]{64}$/.test(r.sha256) &&
      Array.isArray(r.scopes) &&
      r.scopes.every(isScope) &&
      typeof r.created_at === "string" &&
      (r.revoked_at === undefined || typeof r.revoked_at === "string");
    if (!ok) throw bad(`keys[${i}] lacks name, prefix, sha256, scopes or created_at`);
    return r as ApiKeyRecord;
  });
}

/** The records of `file`; none when it does not exist yet. Synchronous: for the verifier. */
export function readKeysFileSync(file: string): ApiKeyRecord[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new GoTaskQError("unavailable", `cannot read ${file}: ${(error as Error).message}`);
  }
  return parseKeysFile(text, file);
}

async function readKeys(file: string): Promise<ApiKeyRecord[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new GoTaskQError("unavailable", `cannot read ${file}: ${(error as Error).message}`);
  }
  return parseKeysFile(text, file);
}

async function writeKeys(file: string, keys: ApiKeyRecord[]): Promise<void> {
  const doc: KeysFile = { version: 1, keys };
  await writeSecretFile(file, doc);
}

/** Creates a key; returns it (shown once, never stored) and its record. Names are unique. */
export async function createApiKey(
  file: string,
  options: { name: string; scopes: readonly Scope[] | string },
): Promise<{ key: string; record: ApiKeyInfo }> {
  const { name } = options;
  if (typeof name !== "string" || !KEY_NAME_PATTERN.test(name)) {
    throw new InvalidArgumentError(
      `key name must match ${KEY_NAME_PATTERN.source}, e.g. "ci-deploy" (got ${JSON.stringify(name)})`,
    );
  }
  const scopes = parseScopes(options.scopes);
  const keys = await readKeys(file);
  if (keys.some((k) => k.name === name)) {
    throw new GoTaskQError(
      "conflict",
      `an API key named "${name}" already exists in ${file} (names stay taken after revocation); choose another name`,
    );
  }
  const key = `${KEY_PREFIX}${randomBytes(KEY_BYTES).toString("base64url")}`;
  const record: ApiKeyRecord = {
    name,
    prefix: key.slice(0, SHOWN_PREFIX_LENGTH),
    sha256: digestKey(key).toString("hex"),
    scopes,
    created_at: new Date().toISOString(),
  };
  await writeKeys(file, [...keys, record]);
  return { key, record: info(record) };
}

/** Every key of the file, revoked ones included, without digests. */
export async function listApiKeys(file: string): Promise<ApiKeyInfo[]> {
  return (await readKeys(file)).map(info);
}

/** Marks the named key revoked (kept for the record); a running server stops accepting it. */
export async function revokeApiKey(file: string, name: string): Promise<ApiKeyInfo> {
  const keys = await readKeys(file);
  const index = keys.findIndex((k) => k.name === name);
  const found = keys[index];
  if (!found) {
    const names = keys.map((k) => k.name).join(", ") || "none";
    throw new NotFoundError(`no API key named "${name}" in ${file} (keys: ${names})`);
  }
  if (found.revoked_at !== undefined) return info(found);
  const revoked: ApiKeyRecord = { ...found, revoked_at: new Date().toISOString() };
  keys[index] = revoked;
  await writeKeys(file, keys);
  return info(revoked);
}

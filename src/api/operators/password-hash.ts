import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from "node:crypto";
import { InvalidArgumentError } from "../../core/errors.js";

// Operator passwords, hashed with scrypt (node:crypto) and a random 16-byte salt. The parameters
// travel with each hash, so they can be raised later without breaking the hashes stored before:
// verify() uses the stored ones, hash() the current defaults. scrypt runs on libuv's thread pool
// (the async form), so a login never blocks the event loop.
//
// Defaults: N = 2^15, r = 8, p = 1 (32 MiB and ~50-100 ms per hash on a laptop core): the
// memory-hard range OWASP lists for scrypt, at a cost a login form can pay per attempt.

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  /** Block size. */
  r: number;
  /** Parallelism. */
  p: number;
  /** Derived key length in bytes. */
  keylen: number;
}

/** A stored hash: the algorithm, its parameters, base64 salt and derived key. */
export interface PasswordHash extends ScryptParams {
  algorithm: "scrypt";
  salt: string;
  hash: string;
}

export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1, keylen: 64 };

/** Largest parameters accepted from a file, so a tampered file cannot exhaust the server. */
const MAX_N = 2 ** 20;
const MAX_R = 32;
const MAX_P = 16;

function derive(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node refuses above `maxmem` (32 MiB by default).
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r + 1_048_576,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFC"), salt, params.keylen, options, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<PasswordHash> {
  checkParams(params);
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return {
    algorithm: "scrypt",
    ...params,
    salt: salt.toString("base64"),
    hash: key.toString("base64"),
  };
}

/** True when `password` matches; the comparison takes the same time wherever they differ. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  const expected = Buffer.from(stored.hash, "base64");
  const key = await derive(password, Buffer.from(stored.salt, "base64"), stored);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

/** True when the hash was made with weaker parameters than the current defaults. */
export function needsRehash(stored: PasswordHash, params = DEFAULT_SCRYPT_PARAMS): boolean {
  return stored.N < params.N || stored.r < params.r || stored.keylen < params.keylen;
}

function checkParams(params: ScryptParams): void {
  const { N, r, p, keylen } = params;
  const ok =
    Number.isInteger(N) &&
    N >= 2 &&
    N <= MAX_N &&
    (N & (N - 1)) === 0 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= MAX_R &&
    Number.isInteger(p) &&
    p >= 1 &&
    p <= MAX_P &&
    Number.isInteger(keylen) &&
    keylen >= 16 &&
    keylen <= 256;
  if (!ok) {
    throw new InvalidArgumentError(
      `scrypt parameters out of range: N must be a power of two up to 2^20, r 1-${MAX_R}, p 1-${MAX_P}, keylen 16-256 (got N=${N}, r=${r}, p=${p}, keylen=${keylen})`,
    );
  }
}

/** Decodes a stored hash from `unknown` (the operators file); undefined when malformed. */
export function parsePasswordHash(value: unknown): PasswordHash | undefined {
  const h = value as Partial<PasswordHash> | null;
  if (typeof h !== "object" || h === null || h.algorithm !== "scrypt") return undefined;
  if (typeof h.salt !== "string" || typeof h.hash !== "string") return undefined;
  const params = { N: h.N, r: h.r, p: h.p, keylen: h.keylen } as ScryptParams;
  try {
    checkParams(params);
  } catch {
    return undefined;
  }
  if (Buffer.from(h.hash, "base64").length !== params.keylen) return undefined;
  return { algorithm: "scrypt", ...params, salt: h.salt, hash: h.hash };
}

// Passwords an operator account must not have: empty, short, one repeated character, the
// account's own name, or one of the most common passwords (checked case-insensitively).
export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 1_024;
const COMMON = new Set([
  "password",
  "password1",
  "password123",
  "passw0rd",
  "123456789012",
  "1234567890ab",
  "qwertyuiopas",
  "qwerty123456",
  "administrator",
  "letmeinplease",
  "changemenow!",
  "iloveyou1234",
  "welcome12345",
  "gotaskqadmin",
]);

/** Throws invalid_argument saying what to change when `password` is too weak for `name`. */
export function checkPasswordStrength(password: string, name: string): void {
  const refuse = (why: string) => {
    throw new InvalidArgumentError(`password refused: ${why}`);
  };
  if (password.length === 0) refuse("it is empty; choose a passphrase of at least 12 characters");
  if (password.length < MIN_PASSWORD_LENGTH) {
    refuse(
      `it has ${password.length} characters; use at least ${MIN_PASSWORD_LENGTH} (a few random words work well)`,
    );
  }
  if (password.length > MAX_PASSWORD_LENGTH) {
    refuse(`it has ${password.length} characters; use at most ${MAX_PASSWORD_LENGTH}`);
  }
  if (new Set(password).size < 4) refuse("it uses fewer than 4 different characters");
  const lower = password.toLowerCase();
  if (name.length >= 3 && lower.includes(name.toLowerCase()))
    refuse("it contains the operator's name");
  if (COMMON.has(lower)) refuse("it is one of the most common passwords");
}

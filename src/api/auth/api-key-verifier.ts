import { timingSafeEqual } from "node:crypto";
import { GoTaskQError } from "../../core/errors.js";
import type { Logger } from "../../logging/logger.js";
import { WatchedFile } from "../watched-file.js";
import { type ApiKeyRecord, digestKey, readKeysFileSync } from "./keys-file.js";
import { type Principal, SCOPES, type Scope } from "./scopes.js";

// Turns a presented API key into a Principal, or refuses it (unauthenticated). Keys are compared
// as SHA-256 digests with crypto.timingSafeEqual against EVERY known key, with no early exit,
// so neither the comparison nor the lookup leaks through timing which key (or how much of one)
// matched. Sources: the keys file (hashed, with scopes) and GOTASKQ_API_KEYS (plaintext, every
// scope; for development and tests).
//
// The keys file is re-read when it changes, so `gotaskq keys revoke` takes effect on a running
// server: at most every `recheckIntervalMs` (default 100 ms) a request stats the file (one
// cheap syscall) and reloads it when its inode, size or mtime moved. If a changed file cannot be
// parsed, the verifier fails closed (no file key works) until it can, and logs why.

const MISSING = "missing API key: send Authorization: Bearer <key> or X-API-Key: <key>";
const INVALID = "invalid API key: check it was copied whole and has not been revoked";
/** Longer presented values are refused before hashing. */
const MAX_KEY_LENGTH = 512;

interface Entry {
  digest: Buffer;
  principal: Principal;
}

export interface ApiKeyVerifierOptions {
  keysFile?: string;
  plaintextKeys?: readonly string[];
  /** Stat the keys file at most this often, in ms (0 = on every request). Default 100. */
  recheckIntervalMs?: number;
  /** Where a keys file that stopped parsing is reported. */
  logger?: Logger;
}

function fileEntries(records: readonly ApiKeyRecord[]): Entry[] {
  return records
    .filter((r) => r.revoked_at === undefined)
    .map((r) => ({
      digest: Buffer.from(r.sha256, "hex"),
      principal: { name: r.name, scopes: new Set<Scope>(r.scopes) },
    }));
}

export class ApiKeyVerifier {
  readonly #plaintext: Entry[];
  #file: WatchedFile<Entry[]> | undefined;

  private constructor(options: ApiKeyVerifierOptions) {
    const all = new Set<Scope>(SCOPES);
    this.#plaintext = (options.plaintextKeys ?? [])
      .filter((k) => k.length > 0)
      .map((key, i) => ({
        digest: digestKey(key),
        // "#" cannot appear in a keys-file name, so these never collide with one.
        principal: { name: `GOTASKQ_API_KEYS#${i + 1}`, scopes: all },
      }));
  }

  /** Reads the keys file (a missing one holds no keys yet); throws when it does not parse. */
  static async load(options: ApiKeyVerifierOptions): Promise<ApiKeyVerifier> {
    const verifier = new ApiKeyVerifier(options);
    const { keysFile, logger } = options;
    if (keysFile !== undefined) {
      verifier.#file = new WatchedFile(keysFile, (f) => fileEntries(readKeysFileSync(f)), {
        recheckMs: options.recheckIntervalMs ?? 100,
        empty: [],
        onError: (error) =>
          logger?.error(
            { err: error, keys_file: keysFile },
            "API keys file unreadable; its keys are refused until it is fixed",
          ),
      });
    }
    return verifier;
  }

  /** Number of usable keys (not revoked), for start-up banners. */
  get size(): number {
    return this.#plaintext.length + (this.#file?.current.length ?? 0);
  }

  /** The principal of a valid key; throws unauthenticated for a missing or unknown key. */
  authenticate(presented: string | undefined): Principal {
    if (presented === undefined || presented.trim() === "") {
      throw new GoTaskQError("unauthenticated", MISSING);
    }
    if (presented.length > MAX_KEY_LENGTH) throw new GoTaskQError("unauthenticated", INVALID);
    const fromFile = this.#file?.current ?? [];
    const digest = digestKey(presented);
    let found: Principal | undefined;
    for (const entry of this.#plaintext) {
      if (timingSafeEqual(digest, entry.digest)) found = entry.principal;
    }
    for (const entry of fromFile) {
      if (timingSafeEqual(digest, entry.digest)) found = entry.principal;
    }
    if (!found) throw new GoTaskQError("unauthenticated", INVALID);
    return found;
  }
}

/**
 * The key a request presents: `Authorization: Bearer <key>` (scheme case-insensitive) or
 * `X-API-Key: <key>`. Header values may arrive as arrays (repeated headers, gRPC metadata):
 * the first string counts. An Authorization header with another scheme presents its whole
 * value, which then fails as an invalid key.
 */
export function extractApiKey(headers: {
  authorization?: unknown;
  apiKey?: unknown;
}): string | undefined {
  const first = (v: unknown): string | undefined => {
    const value = Array.isArray(v) ? v[0] : v;
    if (typeof value === "string") return value;
    if (Buffer.isBuffer(value)) return value.toString("utf8");
    return undefined;
  };
  const authorization = first(headers.authorization)?.trim();
  if (authorization) {
    const match = /^bearer\s+(\S+)$/i.exec(authorization);
    return match?.[1] ?? authorization;
  }
  const apiKey = first(headers.apiKey)?.trim();
  return apiKey ? apiKey : undefined;
}

import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { GoTaskQError } from "../../core/errors.js";
import {
  ApiKeyVerifier,
  createApiKey,
  extractApiKey,
  listApiKeys,
  parseScopes,
  requireScope,
  revokeApiKey,
} from "./api-keys.js";

// API keys: created once and shown once, stored as digests only, revocable while a server runs.

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "gotaskq-keys-"));
  file = path.join(dir, "nested", "api-keys.json");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof GoTaskQError ? error.code : "not a GoTaskQError";
  }
}

describe("keys file", () => {
  it("creates a prefixed high-entropy key and stores only its digest, mode 0600", async () => {
    const { key, record } = await createApiKey(file, { name: "ci", scopes: "submit,read" });
    expect(key).toMatch(/^gtq_[A-Za-z0-9_-]{43}$/);
    expect(record).toMatchObject({
      name: "ci",
      scopes: ["submit", "read"],
      prefix: key.slice(0, 12),
    });
    expect(record).not.toHaveProperty("sha256");
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain(key);
    expect(text).not.toContain(key.slice(12));
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("keeps names unique, lists without secrets, and revokes by name", async () => {
    await createApiKey(file, { name: "ci", scopes: ["submit"] });
    await expect(createApiKey(file, { name: "ci", scopes: ["read"] })).rejects.toThrow(
      /already exists/,
    );
    await expect(createApiKey(file, { name: "bad name", scopes: ["read"] })).rejects.toThrow(
      /key name must match/,
    );
    await expect(createApiKey(file, { name: "x", scopes: "submit,write" })).rejects.toThrow(
      /unknown scope "write"/,
    );
    const revoked = await revokeApiKey(file, "ci");
    expect(revoked.revoked_at).toMatch(/^\d{4}-/);
    const listed = await listApiKeys(file);
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toMatch(/sha256/);
    await expect(revokeApiKey(file, "nobody")).rejects.toThrow(/no API key named "nobody"/);
  });

  it("parses scopes in canonical order", () => {
    expect(parseScopes("admin, submit,admin")).toEqual(["submit", "admin"]);
    expect(() => parseScopes("")).toThrow(/at least one scope/);
  });
});

describe("ApiKeyVerifier", () => {
  it("authenticates file keys with their scopes and plaintext keys with every scope", async () => {
    const { key } = await createApiKey(file, { name: "reader", scopes: ["read"] });
    const verifier = await ApiKeyVerifier.load({ keysFile: file, plaintextKeys: ["dev-key"] });
    const reader = verifier.authenticate(key);
    expect(reader.name).toBe("reader");
    expect([...reader.scopes]).toEqual(["read"]);
    expect([...verifier.authenticate("dev-key").scopes]).toEqual(["submit", "read", "admin"]);
    expect(() => requireScope(reader, "submit")).toThrow(
      /lacks the "submit" scope \(it has: read\)/,
    );
    expect(codeOf(() => requireScope(reader, "admin"))).toBe("permission_denied");
  });

  it("refuses a missing, wrong or oversized key as unauthenticated", async () => {
    const verifier = await ApiKeyVerifier.load({ plaintextKeys: ["dev-key"] });
    expect(() => verifier.authenticate(undefined)).toThrow(
      /missing API key: send Authorization: Bearer/,
    );
    expect(() => verifier.authenticate("dev-kex")).toThrow(/invalid API key/);
    expect(codeOf(() => verifier.authenticate("x".repeat(10_000)))).toBe("unauthenticated");
  });

  it("stops accepting a key revoked while it runs, and accepts one created meanwhile", async () => {
    const { key } = await createApiKey(file, { name: "ci", scopes: ["submit"] });
    const verifier = await ApiKeyVerifier.load({ keysFile: file, recheckIntervalMs: 0 });
    expect(verifier.authenticate(key).name).toBe("ci");
    await revokeApiKey(file, "ci");
    expect(() => verifier.authenticate(key)).toThrow(/invalid API key/);
    const { key: next } = await createApiKey(file, { name: "ci-2", scopes: ["submit"] });
    expect(verifier.authenticate(next).name).toBe("ci-2");
  });

  it("fails closed when the keys file becomes unreadable, and refuses a broken file at load", async () => {
    const { key } = await createApiKey(file, { name: "ci", scopes: ["submit"] });
    const verifier = await ApiKeyVerifier.load({ keysFile: file, recheckIntervalMs: 0 });
    writeFileSync(file, "{ not json");
    expect(() => verifier.authenticate(key)).toThrow(/invalid API key/);
    await expect(ApiKeyVerifier.load({ keysFile: file })).rejects.toThrow(
      /is not a valid API keys file/,
    );
  });

  it("loads with a keys file that does not exist yet", async () => {
    const verifier = await ApiKeyVerifier.load({ keysFile: file });
    expect(verifier.size).toBe(0);
  });
});

describe("extractApiKey", () => {
  it("reads Bearer (any case) first, then X-API-Key", () => {
    expect(extractApiKey({ authorization: "Bearer abc" })).toBe("abc");
    expect(extractApiKey({ authorization: "bearer  abc " })).toBe("abc");
    expect(extractApiKey({ apiKey: ["k1", "k2"] })).toBe("k1");
    expect(extractApiKey({ authorization: "Basic Zm9v", apiKey: "k" })).toBe("Basic Zm9v");
    expect(extractApiKey({})).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import {
  checkPasswordStrength,
  DEFAULT_SCRYPT_PARAMS,
  hashPassword,
  needsRehash,
  parsePasswordHash,
  verifyPassword,
} from "./password-hash.js";

describe("operator password hashing", () => {
  it("hashes with scrypt, a random salt and the parameters stored beside the hash", async () => {
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatchObject({ algorithm: "scrypt", ...DEFAULT_SCRYPT_PARAMS });
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(JSON.stringify(a)).not.toContain("horse");
    expect(await verifyPassword("correct horse battery", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", a)).toBe(false);
    expect(await verifyPassword("", a)).toBe(false);
  });

  it("verifies a hash made with other parameters, and says when it should be raised", async () => {
    const weak = await hashPassword("an older passphrase", { N: 2 ** 10, r: 8, p: 1, keylen: 32 });
    expect(await verifyPassword("an older passphrase", weak)).toBe(true);
    expect(needsRehash(weak)).toBe(true);
    expect(needsRehash(await hashPassword("a current passphrase"))).toBe(false);
  });

  it("refuses malformed or exhausting stored parameters", async () => {
    const good = await hashPassword("some passphrase here", { N: 1024, r: 8, p: 1, keylen: 32 });
    expect(parsePasswordHash(good)).toEqual(good);
    expect(parsePasswordHash({ ...good, N: 2 ** 30 })).toBeUndefined();
    expect(parsePasswordHash({ ...good, N: 1000 })).toBeUndefined();
    expect(parsePasswordHash({ ...good, algorithm: "md5" })).toBeUndefined();
    expect(parsePasswordHash({ ...good, keylen: 64 })).toBeUndefined();
    expect(parsePasswordHash(null)).toBeUndefined();
    await expect(hashPassword("x", { N: 3, r: 8, p: 1, keylen: 64 })).rejects.toMatchObject({
      code: "invalid_argument",
    });
  });

  it("refuses empty, short, repetitive, name-containing and common passwords with the reason", () => {
    const refused = (password: string, name = "alice") => {
      try {
        checkPasswordStrength(password, name);
        return "accepted";
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(refused("")).toMatch(/empty/);
    expect(refused("short1")).toMatch(/at least 12/);
    expect(refused("aaaaaaaaaaaaaaaa")).toMatch(/different characters/);
    expect(refused("alice-is-the-best")).toMatch(/operator's name/);
    expect(refused("Password123")).toMatch(/(at least 12|common)/);
    expect(refused("qwerty123456")).toMatch(/common/);
    expect(refused(`${"x".repeat(2_000)}abcd`)).toMatch(/at most/);
    expect(refused("violet-lantern-orbit")).toBe("accepted");
  });
});

import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";

// The built dashboard (test/global-setup.ts builds it when web/dashboard changed): small enough
// for a phone on a slow link, and nothing in index.html that the CSP would have to allow.

const DIST = path.resolve("dist/dashboard");

describe("dashboard build", () => {
  it("ships under 300 KB of JavaScript gzipped", () => {
    const scripts = readdirSync(path.join(DIST, "assets")).filter((f) => f.endsWith(".js"));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce(
      (total, file) => total + gzipSync(readFileSync(path.join(DIST, "assets", file))).length,
      0,
    );
    expect(gzipped).toBeLessThan(300 * 1024);
  });

  it("has no inline script or style in index.html and React's production build", () => {
    const html = readFileSync(path.join(DIST, "index.html"), "utf8");
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|\sstyle=/);
    expect(html).toMatch(/<link rel="stylesheet"[^>]*href="\/assets\/[^"]+\.css"/);
    const scripts = readdirSync(path.join(DIST, "assets")).filter((f) => f.endsWith(".js"));
    for (const file of scripts)
      expect(readFileSync(path.join(DIST, "assets", file), "utf8")).not.toContain("jsxDEV");
  });
});

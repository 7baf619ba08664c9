import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";

// What the shipped JavaScript imports by package name, read from the files themselves: every
// such package must be a runtime dependency, or `npm install gotaskq` leaves it out and the
// import fails only when that code path first runs (ioredis did, on the first redis:// URL).
// Backends are imported lazily by URL scheme, so running one backend proves nothing about the
// others; this reads them all.

// tsc's output only: `import … from "x"`, `export … from "x"`, `import "x"`, `import("x")`.
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"'./][^"']*)["']/g;

const BUILTINS = new Set(builtinModules);

/** "@scope/name/sub" → "@scope/name", "name/sub" → "name"; undefined for a Node builtin. */
export function packageOf(specifier: string): string | undefined {
  if (specifier.startsWith("node:")) return undefined;
  const parts = specifier.split("/");
  const name = specifier.startsWith("@") ? parts.slice(0, 2).join("/") : (parts[0] ?? "");
  return BUILTINS.has(name) ? undefined : name;
}

function javaScriptFiles(dir: string, skip: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full === skip ? [] : javaScriptFiles(full, skip);
    return entry.name.endsWith(".js") ? [full] : [];
  });
}

/**
 * Packages imported by the JavaScript under `dist`, each with the first file that imports it.
 * The dashboard's bundle is left out: it runs in the browser, with its dependencies inlined.
 */
export function importedPackages(dist: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of javaScriptFiles(dist, path.join(dist, "dashboard"))) {
    for (const match of readFileSync(file, "utf8").matchAll(SPECIFIER)) {
      const name = packageOf(match[1] ?? "");
      if (name !== undefined && !found.has(name)) found.set(name, path.relative(dist, file));
    }
  }
  return found;
}

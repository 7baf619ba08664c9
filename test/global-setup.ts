import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

// End-to-end suites run the shipped CLI (dist/cli/main.js). `npm test` builds first; a bare
// `npx vitest` rebuilds here when any source file is newer than the build, so a stale dist/
// never makes a test pass or fail for the wrong reason.

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

export default function setup(): void {
  const built = (() => {
    try {
      return statSync("dist/cli/main.js").mtimeMs;
    } catch {
      return 0;
    }
  })();
  if (newestMtime("src") > built) {
    execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" });
  }
  // The dashboard (browser suites, dashboard e2e) is served from its Vite build.
  if (newestMtime("web/dashboard") > mtimeOf("dist/dashboard/index.html")) {
    execFileSync("npx", ["vite", "build", "--config", "web/dashboard/vite.config.ts"], {
      stdio: "inherit",
    });
  }
}

function mtimeOf(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

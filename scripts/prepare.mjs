// `npm run prepare`, which npm runs after `npm install` / `npm ci` in this folder, before
// `npm pack`, and whenever npx runs this project's own bin: `npx gotaskq …` inside the
// repository installs the project into npx's cache as a link, which runs `prepare` here. A full
// build takes 20-30 s and empties dist/ first, so building each time made the quick start's first
// `npx gotaskq …` a 30 s pause, under an `npm start` running from that very dist/. This builds
// only when a part's sources are newer than its output; `npm run build` always builds.
//
// Plain JavaScript: it runs before anything is compiled.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

/**
 * Each part of the build: the file it writes last, and what it reads. package-lock.json is left
 * out (every `npm install` rewrites it); the dashboard's generated REST types
 * (web/dashboard/src/*.gen.ts) are written by the build before the dashboard, so they are older
 * than its output.
 */
const PARTS = [
  {
    output: "dist/cli/main.js",
    inputs: ["src", "package.json", "tsconfig.json", "tsconfig.build.json"],
  },
  {
    output: "dist/dashboard/index.html",
    inputs: ["web/dashboard", "src/api/rest", "package.json"],
  },
];

function newestMtimeMs(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const child of readdirSync(entry)) {
    if (child !== "node_modules") newest = Math.max(newest, newestMtimeMs(path.join(entry, child)));
  }
  return newest;
}

const stale = PARTS.filter(
  ({ output, inputs }) =>
    !existsSync(output) || Math.max(...inputs.map(newestMtimeMs)) > statSync(output).mtimeMs,
);
if (stale.length === 0) {
  process.stderr.write("gotaskq: dist/ is up to date, build skipped (npm run build forces it)\n");
} else {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["run", "build"], {
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  process.exitCode = result.status ?? 1;
}

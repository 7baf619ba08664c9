// `npm run prepare`, which npm runs after `npm install` / `npm ci` in this folder, before
// `npm pack`, and whenever npx links this project to run its `gotaskq` bin. Two jobs:
//
// 1. Build dist/ only when a source is newer than it. A full build takes 20-30 s and empties
//    dist/ first, so running it each time turned the first `npx gotaskq …` of the quick start
//    into a 30 s pause, under an `npm start` running from that very dist/. `npm run build`
//    always builds.
// 2. Link node_modules/.bin/gotaskq to dist/cli/main.js. npm links the bins of dependencies,
//    never the project's own; without this link `npx gotaskq` inside the repository installs the
//    project into npx's cache (running this script again) and pays that resolution, 2-4 s, on
//    every call. With it, npx runs the local bin like any other.
//
// Plain JavaScript: it runs before anything is compiled.

import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, readdirSync, statSync, symlinkSync } from "node:fs";
import path from "node:path";

/** What the build reads. package-lock.json is left out: every `npm install` rewrites it. */
const INPUTS = [
  "src",
  "web/dashboard",
  "proto",
  "package.json",
  "tsconfig.json",
  "tsconfig.build.json",
];
/** What the build writes last, per part: the CLI's entry point and the dashboard's page. */
const OUTPUTS = ["dist/cli/main.js", "dist/dashboard/index.html"];

function newestMtimeMs(entry) {
  if (!existsSync(entry)) return 0;
  const stat = statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const child of readdirSync(entry)) {
    if (child === "node_modules") continue;
    newest = Math.max(newest, newestMtimeMs(path.join(entry, child)));
  }
  return newest;
}

function oldestOutputMs() {
  return Math.min(...OUTPUTS.map((file) => (existsSync(file) ? statSync(file).mtimeMs : 0)));
}

function build() {
  const newestInput = Math.max(...INPUTS.map(newestMtimeMs));
  if (newestInput <= oldestOutputMs()) {
    process.stderr.write("gotaskq: dist/ is up to date, build skipped (npm run build forces it)\n");
    return;
  }
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const result = spawnSync(npm, ["run", "build"], {
    stdio: "inherit",
    shell: process.platform === "win32",
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function linkBin() {
  const bin = path.join("node_modules", ".bin", "gotaskq");
  if (!existsSync(path.dirname(bin))) return;
  try {
    lstatSync(bin);
    return; // already there (a link, or npm's own)
  } catch {
    // not there yet
  }
  try {
    symlinkSync(path.join("..", "..", "dist", "cli", "main.js"), bin);
  } catch (error) {
    // Without the link everything works, only `npx gotaskq` is slower: say so, do not fail.
    process.stderr.write(
      `gotaskq: could not link ${bin} (${error.message}); use node dist/cli/main.js\n`,
    );
  }
}

build();
linkBin();

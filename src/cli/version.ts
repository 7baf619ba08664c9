import { readFileSync } from "node:fs";

let cached: string | undefined;

/** This package's version, read once from its package.json (two levels above dist/cli). */
export function packageVersion(): string {
  cached ??= (
    JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as {
      version: string;
    }
  ).version;
  return cached;
}

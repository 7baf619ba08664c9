import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { registryFromModule, type TaskRegistry } from "../tasks/registry.js";
import { CliError } from "./output.js";

// Loads a user's task module for `worker --tasks` / `dev --tasks`. TypeScript modules are loaded
// through tsx (Node 20 cannot strip types itself), JavaScript with a plain dynamic import.

export async function loadTaskModule(file: string): Promise<TaskRegistry> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute))
    throw new CliError(`--tasks ${file}: no such file (looked at ${absolute})`);
  const url = pathToFileURL(absolute).href;
  let loaded: unknown;
  try {
    if (/\.[cm]?tsx?$/.test(absolute)) {
      // Loaded only when needed: tsx costs ~100 ms of start-up that one-shot commands should not pay.
      const { tsImport } = await import("tsx/esm/api");
      loaded = await tsImport(url, import.meta.url);
    } else {
      loaded = await import(url);
    }
  } catch (error) {
    throw new CliError(
      `--tasks ${file} failed to load: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  return registryFromModule(loaded, `--tasks ${file}`);
}

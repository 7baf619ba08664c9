import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { DEFAULT_MAX_PAYLOAD_BYTES } from "../producer/producer.js";
import { declaredSchedules } from "../schedules/declared.js";
import type { ScheduleSpec } from "../schedules/schedule.js";
import { registryFromModule, type TaskRegistry } from "../tasks/registry.js";
import { CliError } from "./output.js";

// Loads a user's task module for `worker --tasks` / `dev --tasks` (and the schedules it declares). TypeScript modules are loaded
// through tsx (Node 20 cannot strip types itself), JavaScript with a plain dynamic import.

export async function loadTaskModule(file: string): Promise<TaskRegistry> {
  return (await loadTaskModuleWithSchedules(file)).registry;
}

/**
 * The module's registry and the schedules it declares (its `schedules` export, validated against
 * its own functions; none when it has no such export).
 */
export async function loadTaskModuleWithSchedules(
  file: string,
): Promise<{ registry: TaskRegistry; schedules: ScheduleSpec[] }> {
  const loaded = esmNamespace(await importModule(file));
  const { schedules, ...rest } = loaded as Record<string, unknown>;
  // Without a default export the module's namespace is the definitions object: not `schedules`.
  const tasks = "default" in rest ? loaded : rest;
  const registry = registryFromModule(tasks, `--tasks ${file}`);
  try {
    return {
      registry,
      schedules: declaredSchedules(
        schedules,
        { registry, maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES },
        `--tasks ${file}`,
      ),
    };
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

/**
 * The module's ES namespace, however it was loaded. tsx compiles a .ts file to CommonJS when no
 * package.json above it says `"type": "module"` (a fresh folder): Node's namespace is then
 * `{ default: module.exports }`, and module.exports is the compiled `{ __esModule: true, default,
 * schedules }`, so `export default` arrived one level too deep ("the handler of "default" must
 * be a function"). The `__esModule` marker says which: unwrap it, so a task module means the same
 * with or without a package.json. A hand-written `module.exports = {…}` has no marker and stays
 * the default export.
 */
function esmNamespace(loaded: unknown): unknown {
  const inner = (loaded as { default?: unknown }).default;
  const compiled =
    typeof inner === "object" &&
    inner !== null &&
    (inner as { __esModule?: unknown }).__esModule === true;
  return compiled ? inner : loaded;
}

async function importModule(file: string): Promise<unknown> {
  const absolute = path.resolve(file);
  if (!existsSync(absolute))
    throw new CliError(`--tasks ${file}: no such file (looked at ${absolute})`);
  const url = pathToFileURL(absolute).href;
  try {
    if (/\.[cm]?tsx?$/.test(absolute)) {
      // Loaded only when needed: tsx costs ~100 ms of start-up that one-shot commands should not pay.
      const { tsImport } = await import("tsx/esm/api");
      return await tsImport(url, import.meta.url);
    }
    return await import(url);
  } catch (error) {
    throw new CliError(
      `--tasks ${file} failed to load: ${(error as Error).message.split("\n")[0]}`,
    );
  }
}

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadTaskModuleWithSchedules } from "./task-module.js";

// A task module as the README writes it, loaded from a fresh folder as `gotaskq worker --tasks`
// loads it: tsx compiles .ts to CommonJS unless a package.json says "type": "module", and the
// module must mean the same either way.

const MODULE = `
export default {
  "text.upper": async (payload: { text: string }) => payload.text.toUpperCase(),
};
export const schedules = { tick: { function_key: "text.upper", every: "30s", payload: { text: "a" } } };
`;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-task-module-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

describe("loading a task module", () => {
  const cases: Array<[string, Record<string, string>]> = [
    ["a .ts module in a folder without package.json (tsx loads it as CommonJS)", {}],
    ['a .ts module under "type": "module"', { "package.json": '{"type":"module"}' }],
    ['a .ts module under "type": "commonjs"', { "package.json": '{"type":"commonjs"}' }],
  ];
  for (const [name, extra] of cases) {
    it(`takes the default export and the schedules of ${name}`, async () => {
      const dir = folder({ "tasks.ts": MODULE, ...extra });
      const loaded = await loadTaskModuleWithSchedules(path.join(dir, "tasks.ts"));
      expect(loaded.registry.keys()).toEqual(["text.upper"]);
      expect(await loaded.registry.require("text.upper").handler({ text: "hi" }, {} as never)).toBe(
        "HI",
      );
      expect(loaded.schedules.map((s) => s.id)).toEqual(["tick"]);
    });
  }

  it("takes a hand-written CommonJS module.exports as the definitions", async () => {
    const dir = folder({ "tasks.cjs": 'module.exports = { "a.b": async () => 1 };' });
    const loaded = await loadTaskModuleWithSchedules(path.join(dir, "tasks.cjs"));
    expect(loaded.registry.keys()).toEqual(["a.b"]);
  });
});

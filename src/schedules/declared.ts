import { InvalidArgumentError } from "../core/errors.js";
import type { ScheduleSpec } from "./schedule.js";
import { type ScheduleLimits, validateSchedule } from "./validation.js";

// Schedules a task module declares beside its tasks, as its `schedules` export:
//
//   export default defineTasks({ "report.build": buildReport });
//   export const schedules = defineSchedules({
//     "nightly-report": { function_key: "report.build", cron: "0 3 * * *", timezone: "Europe/Paris" },
//     "heartbeat": { function_key: "report.build", every: "30s", payload: { quick: true } },
//   });
//
// (an array of schedules with their `id` works too). Each is validated as the API validates a
// schedule, against the module's own functions, when the module loads: a typo fails start-up.

/**
 * One declared schedule: a ScheduleSpec as a caller writes it, every field but `function_key`
 * optional (defaults as the REST body's); `id` may come from the object's key.
 */
export type ScheduleDeclaration = Partial<Omit<ScheduleSpec, "function_key">> &
  Pick<ScheduleSpec, "function_key">;

/**
 * Types a task module's `schedules` export (`export const schedules = defineSchedules({…})`);
 * returns it unchanged: it is validated when the module loads.
 */
export function defineSchedules<T extends Record<string, ScheduleDeclaration>>(schedules: T): T {
  return schedules;
}

export function declaredSchedules(
  exported: unknown,
  limits: ScheduleLimits,
  source = "the task module",
): ScheduleSpec[] {
  if (exported === undefined || exported === null) return [];
  const where = `${source}: schedules`;
  let entries: Array<[string, unknown]>;
  if (Array.isArray(exported)) {
    entries = exported.map((item, i) => [`${where}[${i}]`, item]);
  } else if (typeof exported === "object") {
    entries = Object.entries(exported).map(([id, item]) => [
      `${where}.${id}`,
      typeof item === "object" && item !== null && !("id" in item) ? { id, ...item } : item,
    ]);
  } else {
    throw new InvalidArgumentError(
      `${where} must be an object of schedules by id, e.g. { "heartbeat": { "function_key": "demo.echo", "every": "30s" } }`,
    );
  }
  const seen = new Set<string>();
  return entries.map(([at, item]) => {
    let spec: ScheduleSpec;
    try {
      spec = validateSchedule(item, limits);
    } catch (error) {
      throw new InvalidArgumentError(`${at}: ${(error as Error).message}`);
    }
    if (seen.has(spec.id))
      throw new InvalidArgumentError(
        `${at}: schedule id ${JSON.stringify(spec.id)} is declared twice`,
      );
    seen.add(spec.id);
    return spec;
  });
}

import type { GoTaskQConfig } from "../config/config.js";
import { UnavailableError } from "../core/errors.js";
import type { Part } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";
import { Producer } from "../producer/producer.js";
import type { ScheduleSpec } from "../schedules/schedule.js";
import { Scheduler, type SchedulerTiming } from "../schedules/scheduler.js";
import type { Backends } from "./backends.js";
import { COORDINATION_URL_VARIABLE } from "./coordination.js";

// The scheduler as one part of a process (dev, worker, server), on the process's backends: its
// own Producer (no registry: a worker that runs some functions may schedule others), the
// process's coordination store. Without a coordination store the part stays idle and says why,
// unless the task module declares schedules: then start-up fails, naming the variable.

export interface SchedulerDeps {
  /** Schedules the task module declares (stored when the scheduler starts). */
  declared?: readonly ScheduleSpec[];
  /** Timings that tests shorten; the lease comes from the config. */
  timing?: Partial<Omit<SchedulerTiming, "leaseMs">>;
}

export function schedulerPart(
  config: Pick<GoTaskQConfig, "maxPayloadBytes" | "schedulerLeaseMs">,
  backends: Backends,
  logger: Logger,
  deps: SchedulerDeps = {},
): Part {
  let scheduler: Scheduler | undefined;
  return {
    name: "scheduler",
    async start() {
      const declared = deps.declared ?? [];
      if (!backends.hasCoordination) {
        if (declared.length > 0) {
          throw new UnavailableError(
            `the task module declares ${declared.length} schedule(s) and schedules need a coordination store, but none is configured: set ${COORDINATION_URL_VARIABLE}, or run with --no-scheduler`,
          );
        }
        logger.info(
          { event: "scheduler_off", reason: "no_coordination_store" },
          `scheduler off: schedules need a coordination store (set ${COORDINATION_URL_VARIABLE})`,
        );
        return;
      }
      const producer = new Producer({
        broker: backends.broker,
        tracking: backends.writer,
        logger,
        maxPayloadBytes: config.maxPayloadBytes,
        coordination: () => backends.coordination(),
      });
      scheduler = new Scheduler({
        coordination: () => backends.coordination(),
        submit: (submission, options) => producer.submit(submission, options),
        logger,
        declared,
        timing: { ...deps.timing, leaseMs: config.schedulerLeaseMs },
      });
      await scheduler.start();
    },
    stop: async () => scheduler?.stop(),
  };
}

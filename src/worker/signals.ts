import type { Service } from "../core/lifecycle.js";
import type { Logger } from "../logging/logger.js";

// SIGTERM (orchestrators) and SIGINT (Ctrl+C) start a graceful stop: no new tasks, running ones
// finish within the grace period, the rest are released for redelivery, then exit 0. A second
// signal while stopping exits at once with 130: the operator asked twice, and the broker
// redelivers whatever was still held once its lease runs out.

export interface SignalHandlerOptions {
  signals?: readonly NodeJS.Signals[];
  /** Default `process.exit`; tests pass their own. */
  exit?: (code: number) => void;
}

/** Installs the handlers; returns a function that removes them. */
export function installSignalHandlers(
  service: Service,
  logger: Logger,
  options: SignalHandlerOptions = {},
): () => void {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ event: "shutdown_forced", signal }, "second signal: exiting without waiting");
      exit(130);
      return;
    }
    stopping = true;
    logger.info({ event: "shutdown", signal }, "stopping: no new tasks; waiting for running ones");
    service.stop().then(
      () => exit(0),
      (err: unknown) => {
        logger.error({ event: "shutdown_failed", err }, "graceful stop failed");
        exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

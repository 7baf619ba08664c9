import type { Delivery } from "../broker/broker.js";

// Keeps a running delivery invisible to other consumers: every leaseMs/3 the lease is pushed
// `leaseMs` into the future, so two extensions can fail in a row (a broker hiccup) before the
// message is redelivered elsewhere. A failed extension is reported, never thrown: the handler
// keeps running, and if the lease really was lost the broker redelivers (at-least-once).

export interface LeaseKeeper {
  stop(): void;
}

export function keepLease(
  delivery: Delivery,
  leaseMs: number,
  onError: (error: unknown) => void,
): LeaseKeeper {
  let inFlight = false;
  const timer = setInterval(
    () => {
      // One extension at a time: a slow broker must not pile up extension calls.
      if (inFlight) return;
      inFlight = true;
      delivery
        .extendLease(leaseMs)
        .catch(onError)
        .finally(() => {
          inFlight = false;
        });
    },
    Math.max(1, Math.floor(leaseMs / 3)),
  );
  // The consume subscription keeps the process alive; a lease timer alone must not.
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

import type { Delivery } from "../broker/broker.js";
import { decodeEnvelope, type TaskEnvelope } from "../core/envelope.js";
import { describeError, InvalidArgumentError } from "../core/errors.js";
import type { RegisteredTask, TaskRegistry } from "../tasks/registry.js";
import { type AttemptRef, eventOf, type SettleDeps } from "./attempt.js";
import type { HandBack } from "./hand-back.js";
import type { Revocations } from "./revocations.js";
import { deadLetter, settleCanceled } from "./settlement.js";

// What happens to a delivery before any handler runs, in this order: a body that does not decode
// (DLQ `decode_error`), a revoked task (acked without running, CANCELED), an unknown function
// (handed back to the broker when another live worker runs it, see hand-back.ts; else DLQ
// `unknown_function`), a message delivered too often without ever finishing (DLQ `poison`:
// most likely it crashes or hangs its worker), a payload its schema refuses (DLQ
// `permanent_error`: retrying cannot fix the payload). Whatever passes is run.

export interface ScreeningDeps extends SettleDeps {
  registry: TaskRegistry;
  handBack: HandBack;
  revocations: Revocations;
  maxDeliveries: number;
}

export type Screened =
  | { kind: "run"; attempt: AttemptRef & { task: RegisteredTask } }
  | { kind: "settled"; done: Promise<void> };

/** Decides synchronously (so a revocation cannot slip in between decision and start). */
export function screen(deps: ScreeningDeps, delivery: Delivery): Screened {
  let envelope: TaskEnvelope;
  try {
    envelope = decodeEnvelope(delivery.body);
  } catch (error) {
    return { kind: "settled", done: deadLetterUndecodable(deps, delivery, error) };
  }
  const task = deps.registry.get(envelope.function_key);
  if (deps.revocations.applies(envelope)) {
    const ref = { delivery, envelope, ...(task ? { task } : {}) };
    return settledBy(settleCanceled(deps, ref, "revoked before it ran"));
  }
  if (!task) {
    const why = deps.handBack.reason(delivery.queue, envelope.function_key);
    if (why !== undefined) return settledBy(deps.handBack.settle(deps, delivery, envelope, why));
    const keys = deps.registry.keys();
    const listed = keys.length > 20 ? `${keys.slice(0, 20).join(", ")}, …` : keys.join(", ");
    const error = new InvalidArgumentError(
      `no function ${JSON.stringify(envelope.function_key)} is registered on worker ${deps.workerId} (registered: ${listed || "none"}), nor on any other live worker consuming queue ${delivery.queue}`,
    );
    return settledBy(deadLetterEarly(deps, delivery, envelope, "unknown_function", error));
  }
  if (delivery.deliveryCount > deps.maxDeliveries) {
    const error = new InvalidArgumentError(
      `delivered ${delivery.deliveryCount} times without finishing (limit ${deps.maxDeliveries}); it may crash or hang its worker`,
    );
    return settledBy(deadLetterEarly(deps, delivery, envelope, "poison", error));
  }
  try {
    deps.registry.validatePayload(envelope.function_key, envelope.payload);
  } catch (error) {
    return settledBy(deadLetterEarly(deps, delivery, envelope, "permanent_error", error));
  }
  return { kind: "run", attempt: { delivery, envelope, task } };
}

function settledBy(done: Promise<void>): Screened {
  return { kind: "settled", done };
}

function deadLetterEarly(
  deps: ScreeningDeps,
  delivery: Delivery,
  envelope: TaskEnvelope,
  reason: "unknown_function" | "poison" | "permanent_error",
  error: unknown,
): Promise<void> {
  const task = deps.registry.get(envelope.function_key);
  const event = eventOf(deps, { delivery, envelope, ...(task ? { task } : {}) }, "FAILURE");
  return deadLetter(deps, delivery, reason, describeError(error), event, envelope);
}

// The delivery id is the task id (the broker seam says so), so the failure is still findable.
function deadLetterUndecodable(
  deps: ScreeningDeps,
  delivery: Delivery,
  error: unknown,
): Promise<void> {
  const info = describeError(error);
  return deadLetter(
    deps,
    delivery,
    "decode_error",
    { message: info.message, type: info.type },
    {
      taskId: delivery.id,
      run: 0,
      attempt: 0,
      status: "FAILURE",
      at: deps.now(),
      queue: delivery.queue,
      workerId: deps.workerId,
      deliveryCount: delivery.deliveryCount,
    },
  );
}

import type { CoordinationStore } from "../coordination/coordination-store.js";
import type { TaskEnvelope } from "../core/envelope.js";
import { uniqueClaimValue, uniqueStoreKey } from "../core/submission-identity.js";
import type { Logger } from "../logging/logger.js";

// Releasing a unique task's key, so that the next submission with the key enqueues again: when
// the task starts (`until: "started"`) or when it ends, whatever `until` says (a task dead-
// lettered or canceled before it started is no longer queued either). Only envelopes that carry
// `unique` get here: a worker whose tasks use no unique key never touches the coordination store.
//
// Fire-and-forget: a handler never waits for the store, and a store that is down only delays
// the next submission with the key until the key's ttl_ms, which bounds it anyway. The release
// names the value the producer stored (pending, or done once it recorded the broker's
// confirmation), so it never removes a later task's claim of the same key.

export type CoordinationSource = CoordinationStore | (() => Promise<CoordinationStore>);

export class UniqueRelease {
  readonly #source: CoordinationSource | undefined;
  readonly #logger: Logger;

  constructor(source: CoordinationSource | undefined, logger: Logger) {
    this.#source = source;
    this.#logger = logger;
  }

  started(envelope: TaskEnvelope): void {
    if (envelope.unique?.until === "started") this.#release(envelope);
  }

  ended(envelope: TaskEnvelope): void {
    if (envelope.unique !== undefined) this.#release(envelope);
  }

  #release(envelope: TaskEnvelope): void {
    const unique = envelope.unique;
    if (unique === undefined) return;
    void this.#releaseNow(envelope, unique.key).catch((err: unknown) => {
      this.#logger.warn(
        { event: "unique_release_failed", task_id: envelope.id, unique_key: unique.key, err },
        "could not release the unique key; it frees itself when its ttl_ms ends",
      );
    });
  }

  async #releaseNow(envelope: TaskEnvelope, key: string): Promise<void> {
    const source = this.#source;
    if (source === undefined) {
      throw new Error(
        "no coordination store is configured for this worker (GOTASKQ_COORDINATION_URL)",
      );
    }
    const store = typeof source === "function" ? await source() : source;
    const storeKey = uniqueStoreKey(key);
    const { id, created_at } = envelope;
    if (await store.release(storeKey, uniqueClaimValue("done", id, created_at))) return;
    await store.release(storeKey, uniqueClaimValue("pending", id, created_at));
  }
}

import type { TaskEnvelope } from "../core/envelope.js";

// The revoked task ids this worker knows of, fed by the broker's control channel (which replays
// recent revocations to a new subscriber, so a worker started after a cancel still honours it).
// Workers never read the tracking store, so this set is the only way a queued task learns it
// was canceled. It is bounded twice: entries expire after `ttlMs` (match the broker's replay
// retention: a delayed task can come due days after its cancel) and the oldest are evicted
// beyond `maxEntries`, so a flood of cancels cannot exhaust memory.

export const DEFAULT_REVOCATION_TTL_MS = 30 * 86_400_000;
export const DEFAULT_MAX_REVOCATIONS = 100_000;

export class Revocations {
  /** taskId → latest revocation time (epoch ms); Map order = insertion order ≈ arrival order. */
  private readonly revoked = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.ttlMs = options.ttlMs ?? DEFAULT_REVOCATION_TTL_MS;
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_REVOCATIONS;
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.revoked.size;
  }

  add(taskId: string, at: number): void {
    if (at + this.ttlMs <= this.now()) return;
    const previous = this.revoked.get(taskId);
    this.revoked.delete(taskId);
    this.revoked.set(taskId, Math.max(at, previous ?? at));
    while (this.revoked.size > this.maxEntries) {
      const oldest = this.revoked.keys().next().value;
      if (oldest === undefined) break;
      this.revoked.delete(oldest);
    }
  }

  /** Whether a revocation targets this run of the task (see `revocationApplies`). */
  applies(envelope: TaskEnvelope): boolean {
    // Asked for every delivery, and almost always of an empty set: skip hashing the id.
    if (this.revoked.size === 0) return false;
    const at = this.revoked.get(envelope.id);
    if (at === undefined) return false;
    if (at + this.ttlMs <= this.now()) {
      this.revoked.delete(envelope.id);
      return false;
    }
    return revocationApplies(at, envelope);
  }
}

/**
 * A revocation targets every run that existed when it was issued. Run 0 is always targeted: a
 * cancel cannot precede its task, and trusting timestamps there would let clock skew between
 * API replicas swallow a cancel. A requeued run is targeted only by revocations issued at or
 * after its requeue, so "cancel, then requeue" runs the task again.
 */
export function revocationApplies(revokedAt: number, envelope: TaskEnvelope): boolean {
  if (envelope.run === 0 || envelope.requeued_at === undefined) return true;
  const requeuedAt = Date.parse(envelope.requeued_at);
  return !Number.isFinite(requeuedAt) || revokedAt >= requeuedAt;
}

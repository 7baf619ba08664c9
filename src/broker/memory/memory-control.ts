import type { ControlCommand } from "../broker.js";
import { invokeCallback } from "../validation.js";

// The memory broker's control channel: live fan-out to subscribers plus the revocations of the
// retention window, replayed to each new subscriber before any live command, so a worker that
// starts after a cancel still honours it. Presence beats are fanned out and forgotten.

export const DEFAULT_REVOCATION_RETENTION_MS = 30 * 24 * 3_600_000;

export class MemoryControl {
  private readonly handlers = new Set<(command: ControlCommand) => void>();
  /** taskId → revoked at; re-revoking moves the id to the end, keeping the map in time order. */
  private readonly revocations = new Map<string, number>();

  constructor(
    private readonly now: () => number,
    private readonly retentionMs: number,
  ) {}

  broadcast(command: ControlCommand): void {
    // Presence is live only: fanned out, never kept for replay.
    if (command.type === "revoke") {
      this.revocations.delete(command.taskId);
      this.revocations.set(command.taskId, command.at);
      this.purge();
    }
    // A copy per broadcast, as a serialising backend would hand out.
    const copy = structuredClone(command);
    for (const handler of [...this.handlers]) invokeCallback(handler, copy);
  }

  /** Replays, then subscribes; returns the unsubscribe function. */
  subscribe(handler: (command: ControlCommand) => void): () => void {
    this.purge();
    for (const [taskId, at] of this.revocations)
      invokeCallback(handler, { type: "revoke", taskId, at });
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  clear(): void {
    this.handlers.clear();
  }

  private purge(): void {
    const oldest = this.now() - this.retentionMs;
    for (const [taskId, at] of this.revocations) {
      if (at < oldest) this.revocations.delete(taskId);
    }
  }
}

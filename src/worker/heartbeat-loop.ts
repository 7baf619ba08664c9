import { readFileSync } from "node:fs";
import type { Service } from "../core/lifecycle.js";
import type { TrackingSink } from "../tracking/tracking-sink.js";
import type { WorkerHeartbeat } from "../tracking/tracking-store.js";

// Tells the tracking store who this worker is, every `intervalMs`, best-effort (the sink never
// throws or blocks). The API lists workers seen recently; the last heartbeat of a clean shutdown
// carries `stoppedAt`, so the dashboard can tell "stopped" from "vanished".

/** What changes between beats; the loop asks for it on every beat. */
export type HeartbeatSnapshot = () => Omit<WorkerHeartbeat, "seenAt" | "stoppedAt">;

export class HeartbeatLoop implements Service {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly sink: TrackingSink,
    private readonly snapshot: HeartbeatSnapshot,
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  async start(): Promise<void> {
    if (this.timer || this.stopped) return;
    this.beat();
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops beating and sends the final heartbeat with `stoppedAt`. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    const now = this.now();
    this.sink.heartbeat({ ...this.snapshot(), seenAt: now, stoppedAt: now });
  }

  private beat(): void {
    this.sink.heartbeat({ ...this.snapshot(), seenAt: this.now() });
  }
}

let version: string | undefined;

/** This package's version from its package.json (two levels above src/worker and dist/worker). */
export function packageVersion(): string {
  if (version === undefined) {
    try {
      const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
      const pkg = JSON.parse(text) as { version?: unknown };
      version = typeof pkg.version === "string" ? pkg.version : "unknown";
    } catch {
      version = "unknown";
    }
  }
  return version ?? "unknown";
}

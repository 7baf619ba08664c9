import type { PresenceCommand } from "../broker/broker.js";

// The other live workers this worker has heard of, and what they run: fed by the presence beats
// of the broker's control channel (workers never read the tracking store, and a coordination
// store is optional, so the broker is the one place every worker can hear every other). A peer
// counts as live for the `ttlMs` its last beat announced, measured on this worker's clock from
// when the beat arrived, so clock skew between hosts does not matter. Asked only when a delivery
// names a function this worker does not register: a scan of the peers is cheap at that rate.

interface Peer {
  queues: ReadonlySet<string>;
  functions: ReadonlySet<string>;
  /** Epoch ms (local clock) after which the peer is no longer counted. */
  until: number;
}

export class Peers {
  private readonly peers = new Map<string, Peer>();

  constructor(
    private readonly selfId: string,
    private readonly now: () => number,
  ) {}

  /** Live peers (expired ones are dropped as a side effect). */
  get size(): number {
    this.purge();
    return this.peers.size;
  }

  heard(beat: PresenceCommand): void {
    if (beat.workerId === this.selfId) return;
    if (beat.ttlMs <= 0) {
      this.peers.delete(beat.workerId);
      return;
    }
    this.peers.set(beat.workerId, {
      queues: new Set(beat.queues),
      functions: new Set(beat.functions),
      until: this.now() + beat.ttlMs,
    });
  }

  /** The id of a live peer that consumes `queue` and registers `functionKey`, if any. */
  runnerOf(queue: string, functionKey: string): string | undefined {
    this.purge();
    for (const [id, peer] of this.peers) {
      if (peer.queues.has(queue) && peer.functions.has(functionKey)) return id;
    }
    return undefined;
  }

  private purge(): void {
    const now = this.now();
    for (const [id, peer] of this.peers) {
      if (peer.until <= now) this.peers.delete(id);
    }
  }
}

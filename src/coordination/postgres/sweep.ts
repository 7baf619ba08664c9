import type { BoundedPool } from "./bounded-pool.js";
import { SWEEP } from "./statements.js";

// Expired rows are absent to every statement, and the next write of the same key overwrites
// them; keys never written again would stay forever, so writes also start a bounded sweep now
// and then. No timer of its own: a store nobody writes through has nothing to sweep for.

/** At most one sweep per this many ms per client, of at most SWEEP_ROWS rows per table. */
const SWEEP_INTERVAL_MS = 60_000;
const SWEEP_ROWS = 1_000;

export class ExpirySweep {
  readonly #pool: BoundedPool;
  #last = 0;
  #running: Promise<void> | undefined;

  constructor(pool: BoundedPool) {
    this.#pool = pool;
  }

  /** Starts a sweep when the last one is old enough; never waits for it, never throws. */
  afterWrite(): void {
    // The client's clock only paces sweeps; what counts as expired is the database's judgement.
    const now = Date.now();
    if (this.#running || this.#pool.closed || now - this.#last < SWEEP_INTERVAL_MS) return;
    this.#last = now;
    this.#running = this.#pool
      .query("sweep", SWEEP, [SWEEP_ROWS])
      .then(
        () => {},
        // Best effort: the next sweep tries again, and expired rows are absent meanwhile.
        () => {},
      )
      .finally(() => {
        this.#running = undefined;
      });
  }

  /** Resolves when no sweep is running. */
  async settled(): Promise<void> {
    await this.#running;
  }
}

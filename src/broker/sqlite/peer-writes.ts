import { type FSWatcher, watch } from "node:fs";
import path from "node:path";

// Tells the write loop that another process has just committed to the broker file, so a worker
// fed by a separate producer (`gotaskq server` + `gotaskq worker`) claims new work at once
// instead of at its next idle poll: with polls every 50 ms, a worker that drained a batch sat
// idle for half a poll on average while the next batch waited in the file.
//
// In WAL mode every commit appends to `<file>-wal`, and inotify (fs.watch) reports the write.
// The folder is watched rather than the file because SQLite deletes the WAL when its last
// connection closes and creates it anew. Our own commits are reported too: they cost one probe
// (a read without a lock) at most, since the loop only wakes while it has free slots. Where
// fs.watch is unavailable or fails (some network file systems), the idle poll is all there is.

export class PeerWriteWatcher {
  readonly #walName: string;
  readonly #folder: string;
  readonly #onWrite: () => void;
  #watcher: FSWatcher | undefined;

  constructor(file: string, onWrite: () => void) {
    this.#folder = path.dirname(file);
    this.#walName = `${path.basename(file)}-wal`;
    this.#onWrite = onWrite;
  }

  /** Starts watching; a folder that cannot be watched leaves the loop to its polls. */
  start(): void {
    if (this.#watcher) return;
    try {
      // persistent: false, so an idle worker's watch never keeps a finished process alive.
      this.#watcher = watch(this.#folder, { persistent: false }, (_event, name) => {
        if (name === this.#walName) this.#onWrite();
      });
      this.#watcher.on("error", () => this.stop());
    } catch {
      this.#watcher = undefined;
    }
  }

  /** Idempotent. */
  stop(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}

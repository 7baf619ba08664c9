import { statSync } from "node:fs";

// A small file of credentials that a running server follows (the API keys file, the operators
// file): `gotaskq keys revoke` or `operators remove` in another process takes effect within
// `recheckMs`, without a restart. The file is stat'ed at most that often and re-read only when
// its inode, size or mtime changed. A file that stops parsing fails closed — its contents
// count as empty (a revoked key or removed operator must not survive a broken file) and the
// error is reported — while a file that is broken at start-up throws, so the server refuses to
// start.

function fileVersion(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

export class WatchedFile<T> {
  #value: T;
  #version: string;
  #checkedAt = Date.now();

  /** Reads `file` with `read` now (throwing if it fails): `read` answers a missing file itself. */
  constructor(
    private readonly file: string,
    private readonly read: (file: string) => T,
    private readonly options: { recheckMs: number; empty: T; onError(error: unknown): void },
  ) {
    this.#version = fileVersion(file);
    this.#value = read(file);
  }

  /** The contents now, re-read if the file changed since the last look. */
  get current(): T {
    const now = Date.now();
    if (now - this.#checkedAt < this.options.recheckMs) return this.#value;
    this.#checkedAt = now;
    const version = fileVersion(this.file);
    if (version === this.#version) return this.#value;
    this.#version = version;
    try {
      this.#value = this.read(this.file);
    } catch (error) {
      this.#value = this.options.empty;
      this.options.onError(error);
    }
    return this.#value;
  }
}

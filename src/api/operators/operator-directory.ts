import { randomBytes } from "node:crypto";
import { statSync } from "node:fs";
import type { Logger } from "../../logging/logger.js";
import { type OperatorRecord, type OperatorRole, readOperatorsFileSync } from "./operators-file.js";
import { hashPassword, type PasswordHash, verifyPassword } from "./password-hash.js";

// Who may log in to the dashboard: the operators file plus operators given in memory (the `admin`
// of `gotaskq dev`, which never touches the file). The file is re-read when it changes (as the API
// keys file is), so `operators add/remove` takes effect on a running server; a file that stops
// parsing fails closed (no file operator can log in) and is logged.
//
// verify() costs one scrypt whatever the outcome: an unknown name is checked against a dummy hash,
// so neither the answer time nor the message tells an unknown user from a wrong password.

export interface Operator {
  name: string;
  role: OperatorRole;
}

export interface OperatorDirectoryOptions {
  /** GOTASKQ_OPERATORS_FILE; none = only the in-memory operators. */
  file?: string;
  /** Operators that live only in this process (they take precedence over the file's). */
  inMemory?: readonly { name: string; role: OperatorRole; password: string }[];
  /** Stat the file at most this often, in ms (0 = on every lookup). Default 100. */
  recheckIntervalMs?: number;
  logger?: Logger;
}

function fileVersion(file: string): string {
  try {
    const s = statSync(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return "missing";
  }
}

export class OperatorDirectory {
  readonly #file: string | undefined;
  readonly #recheckMs: number;
  readonly #logger: Logger | undefined;
  readonly #memory = new Map<string, OperatorRecord>();
  #fromFile = new Map<string, OperatorRecord>();
  #version = "missing";
  #checkedAt = 0;
  #dummy!: PasswordHash;

  private constructor(options: OperatorDirectoryOptions) {
    this.#file = options.file;
    this.#recheckMs = options.recheckIntervalMs ?? 100;
    this.#logger = options.logger;
  }

  /** Reads the file (a missing one holds nobody yet; a broken one throws) and hashes `inMemory`. */
  static async load(options: OperatorDirectoryOptions): Promise<OperatorDirectory> {
    const directory = new OperatorDirectory(options);
    directory.#dummy = await hashPassword(randomBytes(16).toString("hex"));
    for (const o of options.inMemory ?? []) {
      directory.#memory.set(o.name, {
        name: o.name,
        role: o.role,
        hash: await hashPassword(o.password),
        created_at: new Date().toISOString(),
      });
    }
    if (options.file !== undefined) {
      directory.#version = fileVersion(options.file);
      directory.#fromFile = byName(readOperatorsFileSync(options.file));
      directory.#checkedAt = Date.now();
    }
    return directory;
  }

  /** The operator now: undefined once removed (its sessions then end). */
  lookup(name: string): Operator | undefined {
    this.#refresh();
    const record = this.#memory.get(name) ?? this.#fromFile.get(name);
    return record ? { name: record.name, role: record.role } : undefined;
  }

  /** The operator when the password matches; undefined for an unknown name or a wrong password. */
  async verify(name: string, password: string): Promise<Operator | undefined> {
    this.#refresh();
    const record = this.#memory.get(name) ?? this.#fromFile.get(name);
    const matches = await verifyPassword(password, record?.hash ?? this.#dummy);
    return record && matches ? { name: record.name, role: record.role } : undefined;
  }

  /** Operators known (file and memory), for start-up banners. */
  get size(): number {
    this.#refresh();
    const names = new Set([...this.#memory.keys(), ...this.#fromFile.keys()]);
    return names.size;
  }

  #refresh(): void {
    const file = this.#file;
    if (file === undefined) return;
    const now = Date.now();
    if (now - this.#checkedAt < this.#recheckMs) return;
    this.#checkedAt = now;
    const version = fileVersion(file);
    if (version === this.#version) return;
    this.#version = version;
    try {
      this.#fromFile = byName(readOperatorsFileSync(file));
    } catch (error) {
      this.#fromFile = new Map(); // fail closed: a removed operator must not survive a broken file
      this.#logger?.error(
        { err: error, operators_file: file },
        "operators file unreadable; its operators cannot log in until it is fixed",
      );
    }
  }
}

function byName(records: readonly OperatorRecord[]): Map<string, OperatorRecord> {
  return new Map(records.map((r) => [r.name, r]));
}

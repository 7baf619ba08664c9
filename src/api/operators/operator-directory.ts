import { randomBytes } from "node:crypto";
import type { Logger } from "../../logging/logger.js";
import { WatchedFile } from "../watched-file.js";
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

export class OperatorDirectory {
  readonly #memory = new Map<string, OperatorRecord>();
  #file: WatchedFile<Map<string, OperatorRecord>> | undefined;
  #dummy!: PasswordHash;

  private constructor() {}

  /** Operators of the file now (empty without a file). */
  get #fromFile(): Map<string, OperatorRecord> {
    return this.#file?.current ?? NOBODY;
  }

  /** Reads the file (a missing one holds nobody yet; a broken one throws) and hashes `inMemory`. */
  static async load(options: OperatorDirectoryOptions): Promise<OperatorDirectory> {
    const directory = new OperatorDirectory();
    directory.#dummy = await hashPassword(randomBytes(16).toString("hex"));
    for (const o of options.inMemory ?? []) {
      directory.#memory.set(o.name, {
        name: o.name,
        role: o.role,
        hash: await hashPassword(o.password),
        created_at: new Date().toISOString(),
      });
    }
    const { file, logger } = options;
    if (file !== undefined) {
      directory.#file = new WatchedFile(file, (f) => byName(readOperatorsFileSync(f)), {
        recheckMs: options.recheckIntervalMs ?? 100,
        empty: NOBODY,
        onError: (error) =>
          logger?.error(
            { err: error, operators_file: file },
            "operators file unreadable; its operators cannot log in until it is fixed",
          ),
      });
    }
    return directory;
  }

  /** The operator now: undefined once removed (its sessions then end). */
  lookup(name: string): Operator | undefined {
    const record = this.#memory.get(name) ?? this.#fromFile.get(name);
    return record ? { name: record.name, role: record.role } : undefined;
  }

  /** The operator when the password matches; undefined for an unknown name or a wrong password. */
  async verify(name: string, password: string): Promise<Operator | undefined> {
    const record = this.#memory.get(name) ?? this.#fromFile.get(name);
    const matches = await verifyPassword(password, record?.hash ?? this.#dummy);
    return record && matches ? { name: record.name, role: record.role } : undefined;
  }

  /** Operators known (file and memory), for start-up banners. */
  get size(): number {
    const names = new Set([...this.#memory.keys(), ...this.#fromFile.keys()]);
    return names.size;
  }
}

const NOBODY: Map<string, OperatorRecord> = new Map();

function byName(records: readonly OperatorRecord[]): Map<string, OperatorRecord> {
  return new Map(records.map((r) => [r.name, r]));
}

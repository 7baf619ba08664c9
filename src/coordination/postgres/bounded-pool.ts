import type pg from "pg";
import { UnavailableError } from "../../core/errors.js";
import { toCoordinationError } from "./errors.js";

// The pg pool as the store uses it: every operation runs within the operation timeout (the
// pool's wait and every statement of a transaction together), its failure translated once, and
// nothing is sent after close(). pg's own timeouts (connection.ts) end the abandoned work on the
// server. A call that times out has an unknown outcome (the statement may still commit):
// callers treat `unavailable` as "maybe", which is what every TTL is for.

export class BoundedPool {
  readonly #pool: pg.Pool;
  readonly #timeoutMs: number;
  #closed: Promise<void> | undefined;

  constructor(pool: pg.Pool, timeoutMs: number) {
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /** One statement on any pooled connection. */
  query<Row extends pg.QueryResultRow>(
    operation: string,
    text: string,
    values: readonly unknown[] = [],
  ): Promise<pg.QueryResult<Row>> {
    return this.run(operation, () => this.#pool.query<Row>(text, [...values]));
  }

  /**
   * `work` between BEGIN and COMMIT on one connection. On any failure the connection is closed
   * rather than rolled back: the server rolls back on its own, and a server that stopped
   * answering would not answer a ROLLBACK either.
   */
  transaction<T>(operation: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(operation, async (client) => {
      await client.query("begin");
      const result = await work(client);
      await client.query("commit");
      return result;
    });
  }

  /** `work` on one connection of its own; the connection is discarded if `work` fails. */
  withClient<T>(operation: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.run(operation, async () => {
      const client = await this.#pool.connect();
      let failure: Error | undefined;
      try {
        return await work(client);
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        throw error;
      } finally {
        client.release(failure);
      }
    });
  }

  async run<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new UnavailableError(
        `coordination store (postgres) is closed; ${operation} was not sent`,
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const message = `coordination store (postgres) ${operation} got no answer within ${this.#timeoutMs} ms (operationTimeoutMs)`;
        reject(new UnavailableError(message));
      }, this.#timeoutMs);
    });
    try {
      return await Promise.race([work(), deadline]);
    } catch (error) {
      throw toCoordinationError(operation, error);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Idempotent; waits for `pending` (work started before) and for the pool's connections. */
  close(pending?: Promise<void>): Promise<void> {
    this.#closed ??= (async () => {
      await pending;
      await this.#pool.end();
    })();
    return this.#closed;
  }
}

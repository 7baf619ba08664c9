import type { CoordinationStore } from "../coordination/coordination-store.js";
import {
  COORDINATION_ADAPTERS,
  defaultCoordinationUrl,
  openCoordinationStore,
} from "../coordination/open.js";
import { InvalidArgumentError, UnavailableError } from "../core/errors.js";
import type { Logger } from "../logging/logger.js";

// The coordination store of one process, opened on first use: a process whose tasks use no
// feature that needs it (no idempotency key, no unique task, no shared session) never connects
// to it. The URL is checked at start-up, though, so a typo fails the process at once instead of
// the first idempotent submission an hour later. Every caller of the process (producer,
// worker, dashboard sessions) shares the one store; close() is idempotent.

/** `GOTASKQ_COORDINATION_URL` spelled out for messages. */
export const COORDINATION_URL_VARIABLE = "GOTASKQ_COORDINATION_URL";

/** What opens a store from its URL: `openCoordinationStore`, or a test's own. */
export type CoordinationOpener = (url: string) => Promise<CoordinationStore>;

function schemeOf(url: string): string {
  const colon = url.indexOf(":");
  return (colon < 0 ? url : url.slice(0, colon + 1)).toLowerCase();
}

/** The URL the config names, or the derived default; undefined means none (`none`). */
export function effectiveCoordinationUrl(config: {
  coordinationUrl: string | undefined;
  brokerUrl: string;
  trackingUrl: string;
}): string | undefined {
  const given = config.coordinationUrl?.trim();
  const url = given || defaultCoordinationUrl(config.brokerUrl, config.trackingUrl);
  if (url === undefined || schemeOf(url) === "none" || schemeOf(url) === "none:") return undefined;
  return url;
}

/** Throws at start-up for a scheme no coordination store understands, naming the variable. */
export function checkCoordinationUrl(url: string | undefined): void {
  if (url === undefined || Object.hasOwn(COORDINATION_ADAPTERS, schemeOf(url))) return;
  throw new InvalidArgumentError(
    `${COORDINATION_URL_VARIABLE} ${JSON.stringify(url)} has an unknown scheme; use sqlite://path, redis://host:port, postgres://…, memory:// or none`,
  );
}

export interface LazyCoordinationOptions {
  logger: Logger;
  /** Opens the store; default `openCoordinationStore` of src/coordination/open.ts. */
  open?: CoordinationOpener;
}

export class LazyCoordination {
  /** The store's URL; undefined when the process has none. */
  readonly url: string | undefined;
  readonly #options: LazyCoordinationOptions;
  #opening: Promise<CoordinationStore> | undefined;
  #closed = false;

  /** Checks the URL's scheme (an unknown one throws) but opens nothing yet. */
  constructor(url: string | undefined, options: LazyCoordinationOptions) {
    checkCoordinationUrl(url);
    this.url = url;
    this.#options = options;
  }

  /** A store already open (tests, an application that wires its own), used as is and closed by close(). */
  static of(store: CoordinationStore, logger: Logger): LazyCoordination {
    const lazy = new LazyCoordination(undefined, { logger, open: async () => store });
    lazy.#opening = Promise.resolve(store);
    return lazy;
  }

  get configured(): boolean {
    return this.url !== undefined || this.#opening !== undefined;
  }

  /**
   * The open store, opened on the first call. Rejects with `unavailable` naming
   * GOTASKQ_COORDINATION_URL when none is configured; a failed open is retried on the next call.
   */
  store(): Promise<CoordinationStore> {
    if (this.#closed) {
      return Promise.reject(new UnavailableError("the coordination store is closed"));
    }
    if (this.#opening) return this.#opening;
    const { url } = this;
    if (url === undefined) {
      return Promise.reject(
        new UnavailableError(
          `this feature needs a coordination store and none is configured: set ${COORDINATION_URL_VARIABLE} (e.g. sqlite://.gotaskq/coordination.db or redis://127.0.0.1:6379)`,
        ),
      );
    }
    const { open, logger } = this.#options;
    const opening = (open ? open(url) : openCoordinationStore(url)).then((store) => {
      logger.info({ event: "coordination_opened", kind: store.kind }, "coordination store open");
      return store;
    });
    this.#opening = opening;
    opening.catch(() => {
      if (this.#opening === opening) this.#opening = undefined;
    });
    return opening;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const opening = this.#opening;
    this.#opening = undefined;
    const store = await opening?.catch(() => undefined);
    await store?.close();
  }
}

// Where a deployment's coordination state lives in Redis. Every key starts with the deployment
// prefix in braces, a Redis Cluster hash tag: all of a deployment's coordination keys hash to
// one slot, so a script may reach entry keys it derives from the index (pruning, listing), and
// a Cluster runs each script on one node. The price is that one deployment's coordination load
// is not spread over a Cluster's nodes; it is small next to the broker's, whose keys are
// spread by queue.
//
//   {<prefix>}:coord:e:<key>     string, an entry's value, PX = its TTL
//   {<prefix>}:coord:ix:lex      sorted set of the live entries' keys, all scores 0 (key order)
//   {<prefix>}:coord:ix:exp      sorted set of the same keys, score = expiry (server ms)
//   {<prefix>}:coord:b:<name>    hash {t: tokens, u: server ms of the last take}, PEXPIRE
//   {<prefix>}:coord:s:<name>    sorted set holder → lease expiry (server ms), PEXPIRE
//   {<prefix>}:coord:n:<name>    string counter, PEXPIRE
//
// The kinds have separate key spaces, so an entry, a bucket, a semaphore and a counter may
// share a name.

export class CoordinationKeys {
  /** Prepended to a caller's key to name its entry. */
  readonly entryPrefix: string;
  readonly lexIndex: string;
  readonly expiryIndex: string;
  private readonly base: string;

  constructor(prefix: string) {
    this.base = `{${prefix}}:coord:`;
    this.entryPrefix = `${this.base}e:`;
    this.lexIndex = `${this.base}ix:lex`;
    this.expiryIndex = `${this.base}ix:exp`;
  }

  entry(key: string): string {
    return this.entryPrefix + key;
  }

  bucket(name: string): string {
    return `${this.base}b:${name}`;
  }

  semaphore(name: string): string {
    return `${this.base}s:${name}`;
  }

  counter(name: string): string {
    return `${this.base}n:${name}`;
  }

  /** A glob matching every key of the deployment (for tests' cleanup). */
  static pattern(prefix: string): string {
    return `{${prefix}}:coord:*`;
  }
}

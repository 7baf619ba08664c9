// Where a queue lives in Redis. Every key of one queue carries the queue name as a hash tag
// (`{queue}`), so in Redis Cluster all of them hash to one slot and each Lua script, which only
// ever touches the keys of one queue, runs on one node. Keys shared by all queues (the queue
// registry, the revocation set) are used by plain commands only, never inside a queue's script.
//
//   <prefix>:{<queue>}:p<0-9>   stream per priority lane, consumer group "gotaskq"
//   <prefix>:{<queue>}:delayed  sorted set of delayed messages, score = due time (epoch ms)
//   <prefix>:{<queue>}:dlq      stream of dead letters
//   <prefix>:{<queue>}:wake     one-entry stream a delayed publish touches to wake idle consumers
//   <prefix>:queues             set of queue names (published to or consumed from)
//   <prefix>:revocations        sorted set of revoked task ids, score = revocation time
//   <prefix>:control            pub/sub channel of control commands

export const PRIORITY_LANES = 10;
export const GROUP = "gotaskq";

/**
 * The KEYS every queue script receives, in this order: KEYS[1..10] the lanes of priority 0..9
 * (priority p is KEYS[p + 1]), KEYS[11] delayed, KEYS[12] dlq, KEYS[13] wake.
 */
export class QueueKeys {
  readonly lanes: readonly string[];
  readonly delayed: string;
  readonly dlq: string;
  readonly wake: string;
  /** All 13 keys in script order. */
  readonly all: readonly string[];

  constructor(
    prefix: string,
    readonly queue: string,
  ) {
    const base = `${prefix}:{${queue}}`;
    this.lanes = Array.from({ length: PRIORITY_LANES }, (_, p) => `${base}:p${p}`);
    this.delayed = `${base}:delayed`;
    this.dlq = `${base}:dlq`;
    this.wake = `${base}:wake`;
    this.all = [...this.lanes, this.delayed, this.dlq, this.wake];
  }
}

export class GlobalKeys {
  readonly queues: string;
  readonly revocations: string;
  readonly channel: string;

  constructor(prefix: string) {
    this.queues = `${prefix}:queues`;
    this.revocations = `${prefix}:revocations`;
    this.channel = `${prefix}:control`;
  }
}

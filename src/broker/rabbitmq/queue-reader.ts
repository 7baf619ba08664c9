import type { Channel, ConsumeMessage } from "amqplib";
import type { RabbitContext } from "./context.js";

// Reading a whole queue without consuming it: AMQP has no browse, so a dedicated channel takes
// every message that is ready (no prefetch bound), `decide` says which ones to remove, and the
// rest are nacked back with requeue before the channel closes. The requeue and a passive declare
// go out on the same channel, so when `read` returns the broker has put them back (a later read
// sees them). Used for the DLQ (list, requeue) and the queue registry. Reads of one client are
// serialized; concurrent reads from several processes see each other's held messages as missing
// for the moment (documented). Cost: O(queue length) per call.

const IDLE_MS = 300;
const RETURN_WAIT_MS = 3_000;

export class QueueReader {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly ctx: RabbitContext) {}

  /**
   * Calls `visit` for each ready message of `queue` (a full RabbitMQ name); `visit` returns true to
   * remove it. `before` runs once all were seen and before any removal: e.g. to publish the
   * requeued copies durably first.
   */
  read(
    queue: string,
    visit: (message: ConsumeMessage) => boolean,
    before?: () => Promise<void>,
  ): Promise<void> {
    const run = this.tail.then(() =>
      this.ctx.topology.withChannel(`read queue ${queue}`, (ch) =>
        this.readOn(ch, queue, visit, before),
      ),
    );
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async readOn(
    ch: Channel,
    queue: string,
    visit: (message: ConsumeMessage) => boolean,
    before?: () => Promise<void>,
  ): Promise<void> {
    const { messageCount } = await ch.checkQueue(queue);
    if (messageCount === 0) return;
    const removed: ConsumeMessage[] = [];
    let seen = 0;
    let last: ConsumeMessage | undefined;
    let consumerTag: string | undefined;
    await new Promise<void>((resolve, reject) => {
      let idle: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(idle);
        resolve();
      };
      const arm = () => {
        clearTimeout(idle);
        // A message that left meanwhile (another reader) must not make us wait forever.
        idle = setTimeout(finish, IDLE_MS);
      };
      ch.on("close", () => {
        clearTimeout(idle);
        reject(new Error("channel closed while reading"));
      });
      ch.consume(
        queue,
        (message) => {
          try {
            if (message === null) return finish();
            last = message;
            if (visit(message)) removed.push(message);
            if (++seen >= messageCount) finish();
            else arm();
          } catch (error) {
            reject(error);
          }
        },
        { noAck: false },
      ).then((reply) => {
        consumerTag = reply.consumerTag;
        arm();
      }, reject);
    });
    // Cancel first: a nacked message would otherwise come straight back to this consumer.
    if (consumerTag !== undefined) await ch.cancel(consumerTag);
    if (removed.length > 0 && before) await before();
    for (const message of removed) ch.ack(message);
    if (last) ch.nackAll(true);
    // A classic queue answers this after the acks and nacks of this channel; a quorum queue
    // applies returns through its log, so wait (bounded) until they are back: the next read of
    // this client must see them. Nobody but readers consumes these queues.
    const returned = seen - removed.length;
    const deadline = Date.now() + RETURN_WAIT_MS;
    while ((await ch.checkQueue(queue)).messageCount < returned && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

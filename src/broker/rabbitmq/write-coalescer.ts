import { Duplex } from "node:stream";

// amqplib hands every frame to its socket with a write of its own, and a small write to a TCP
// socket is a system call of its own: a REST batch of 1,000 tasks was 1,000 writes (strace-free
// count: 20,033 socket writes for 20,000 published tasks), each one waking RabbitMQ. amqplib's
// writer hands over every frame its channels hold in one synchronous loop, so the socket is
// corked at the first write and uncorked on the next tick, once that loop ended: its frames
// leave as one writev, in order, and nothing waits for a later turn of the event loop.
//
// The socket is amqplib's `connection.stream`, not part of its typed API: when a future amqplib
// does not have it, nothing is coalesced and everything works as before.

/** Socket write buffer before amqplib's writer backs off (bytes): a corked batch fits in it. */
export const WRITE_BUFFER_BYTES = 1 << 20;

/** Coalesces the writes of one amqplib connection; false when its socket cannot be found. */
export function coalesceWrites(connection: unknown): boolean {
  const socket = (connection as { stream?: unknown } | null)?.stream;
  if (!(socket instanceof Duplex)) return false;
  const write = socket.write;
  let held = false;
  const release = () => {
    held = false;
    socket.uncork();
  };
  socket.write = function (this: Duplex, ...args: Parameters<Duplex["write"]>): boolean {
    if (!held) {
      held = true;
      socket.cork();
      process.nextTick(release);
    }
    return write.apply(this, args);
  } as Duplex["write"];
  return true;
}

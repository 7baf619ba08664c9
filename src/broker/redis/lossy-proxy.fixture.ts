import net from "node:net";

// A TCP proxy in front of a Redis, for tests that need a connection to drop at an exact point of
// one exchange, which stopping Redis cannot give deterministically:
// - `cutAfterRequest(needle)`: the next request containing `needle` reaches Redis (and is
//   applied), then the client's connection is closed before its reply is passed on: a lost reply.
// - `cutBeforeRequest(needle)`: the connection is closed instead of forwarding that request: a
//   request lost on the way, never applied.
// - `refuseConnections(true)`: new connections are closed at once (Redis away), until set false.
// The client sees what a real drop gives it: its socket closes with commands in flight.

export interface LossyProxy {
  readonly url: string;
  /** Resolves once the connection was cut (the request was applied by then). */
  cutAfterRequest(needle: string): Promise<void>;
  /** Resolves once the connection was cut (the request never reached Redis). */
  cutBeforeRequest(needle: string): Promise<void>;
  refuseConnections(refuse: boolean): void;
  close(): Promise<void>;
}

interface Cut {
  needle: Buffer;
  after: boolean;
  done: () => void;
}

export async function startLossyProxy(target: { host: string; port: number }): Promise<LossyProxy> {
  let cut: Cut | undefined;
  let refusing = false;
  const sockets = new Set<net.Socket>();

  const server = net.createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => {});
    if (refusing) {
      client.destroy();
      return;
    }
    const upstream = net.connect(target.port, target.host);
    sockets.add(upstream);
    upstream.on("close", () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.on("error", () => {});
    client.on("close", () => upstream.destroy());
    /** Set once this connection forwarded the request whose reply must be lost. */
    let loseReply: Cut | undefined;

    client.on("data", (chunk: Buffer) => {
      const armed = cut;
      if (armed && chunk.includes(armed.needle)) {
        cut = undefined;
        if (!armed.after) {
          client.destroy();
          upstream.destroy();
          armed.done();
          return;
        }
        loseReply = armed;
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      const losing = loseReply;
      loseReply = undefined;
      if (losing && chunk.toString("latin1").startsWith("-NOSCRIPT")) {
        // Not the reply to lose: ioredis sends the script again with EVAL, which carries the
        // needle too.
        cut = losing;
      } else if (losing) {
        client.destroy();
        upstream.destroy();
        losing.done();
        return;
      }
      client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as net.AddressInfo;

  const arm = (needle: string, after: boolean) =>
    new Promise<void>((resolve) => {
      cut = { needle: Buffer.from(needle), after, done: resolve };
    });

  return {
    url: `redis://127.0.0.1:${address.port}`,
    cutAfterRequest: (needle) => arm(needle, true),
    cutBeforeRequest: (needle) => arm(needle, false),
    refuseConnections: (refuse) => {
      refusing = refuse;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

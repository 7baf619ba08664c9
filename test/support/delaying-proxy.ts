import net from "node:net";

// A TCP proxy that holds back the server's answers on the first `delayedConnections` connections
// for `delayMs`: the request reaches the server (and is acted on) at once, but the client sees
// no answer in time, times out, and retries on a new connection, which is answered at once. That
// is the lost-202 case an idempotency key exists for.

export interface DelayingProxy {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startDelayingProxy(
  target: { host: string; port: number },
  options: { delayMs: number; delayedConnections: number },
): Promise<DelayingProxy> {
  const sockets = new Set<net.Socket>();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted += 1;
    const delayed = accepted <= options.delayedConnections;
    const upstream = net.connect(target);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!delayed) {
        client.write(chunk);
        return;
      }
      setTimeout(() => {
        if (!client.destroyed) client.write(chunk);
      }, options.delayMs);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => setTimeout(() => client.end(), delayed ? options.delayMs : 0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get connections() {
      return accepted;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

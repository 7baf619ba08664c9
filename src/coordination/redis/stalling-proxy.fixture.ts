import net from "node:net";

// A TCP proxy in front of a Redis whose `stall()` makes Redis stop answering without closing
// anything: bytes in either direction are dropped, connections stay open, and new ones are
// accepted and never served. That is the hardest outage for a client, a server that hangs
// (a network partition, a stopped VM), where only its own timeouts can end a call; a refused
// or reset connection is reported by the socket itself.

export interface StallingProxy {
  readonly url: string;
  stall(): void;
  close(): Promise<void>;
}

export async function startStallingProxy(target: {
  host: string;
  port: number;
}): Promise<StallingProxy> {
  let stalled = false;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };

  const server = net.createServer((client) => {
    track(client);
    if (stalled) return;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("data", (chunk: Buffer) => {
      if (!stalled) upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!stalled) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `redis://127.0.0.1:${port}`,
    stall: () => {
      stalled = true;
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

import net from "node:net";

// A TCP proxy in front of PostgreSQL for the fault tests. `silence()` makes the server look
// gone without telling anyone: open connections stay open but nothing passes either way, and
// new connections are accepted and then ignored. That is the hard case for timeouts (a refused
// or reset connection fails fast on its own); only the client's bounds end the wait.
// `cut()` closes every connection and refuses new ones: the server going away loudly.

export interface SilentProxy {
  /** host:port to connect to instead of the server's. */
  readonly address: { host: string; port: number };
  silence(): void;
  cut(): void;
  close(): Promise<void>;
}

export async function startSilentProxy(target: {
  host: string;
  port: number;
}): Promise<SilentProxy> {
  let mode: "forward" | "silent" | "cut" = "forward";
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  };

  const server = net.createServer((client) => {
    track(client);
    if (mode === "cut") {
      client.destroy();
      return;
    }
    if (mode === "silent") return;
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    client.on("data", (chunk: Buffer) => {
      if (mode === "forward") upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (mode === "forward") client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;

  const destroyAll = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    address: { host: "127.0.0.1", port },
    silence: () => {
      mode = "silent";
    },
    cut: () => {
      mode = "cut";
      destroyAll();
    },
    close: async () => {
      destroyAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

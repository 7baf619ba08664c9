import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { Redis } from "ioredis";

// A private redis-server for fault tests that must stop and restart Redis: its own free port and
// temporary directory, so the shared server on 6379 is never touched. With `persistence: "aof"`
// (the default) every write is fsynced to the AOF; stop() sends SIGTERM (Redis flushes the AOF
// and exits) and start() runs it again on the same port and directory, where it reloads the AOF.
// With `persistence: "none"` a restart starts empty, as a crashed cache server would; kill()
// sends SIGKILL (a crash, nothing flushed).

export interface PrivateRedis {
  readonly port: number;
  readonly url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  kill(): Promise<void>;
  /** Stops the server and removes its directory. */
  cleanup(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

export async function startPrivateRedis(
  options: { persistence?: "aof" | "none" } = {},
): Promise<PrivateRedis> {
  const persistence =
    (options.persistence ?? "aof") === "aof"
      ? ["--appendonly", "yes", "--appendfsync", "always"]
      : ["--appendonly", "no"];
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-redis-"));
  const port = await freePort();
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    child = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        ...persistence,
        "--save",
        "",
        "--maxmemory-policy",
        "noeviction",
      ],
      { stdio: "ignore" },
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      const probe = new Redis({
        port,
        host: "127.0.0.1",
        lazyConnect: true,
        retryStrategy: () => null,
      });
      probe.on("error", () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === "PONG") return;
      } catch {
        // not up yet (or still loading the AOF)
      } finally {
        probe.disconnect();
      }
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once("exit", () => resolve());
      running.kill(signal);
    });
  };
  const stop = () => stopWith("SIGTERM");

  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    kill: () => stopWith("SIGKILL"),
    cleanup: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

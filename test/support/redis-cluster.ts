import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";

// A private three-primary Redis Cluster for the Cluster tests: three redis-server processes on
// free ports (each also needs port + 10000 free, for the cluster bus) in a temporary directory,
// joined with `redis-cli --cluster create`. Nothing persisted; cleanup() stops and removes all.

const run = promisify(execFile);

export interface PrivateCluster {
  /** A URL of one node; the client discovers the others. */
  readonly url: string;
  cleanup(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

async function clusterPorts(count: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < count && attempt < 500; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    if (ports.includes(port)) continue;
    if ((await portFree(port)) && (await portFree(port + 10_000))) ports.push(port);
  }
  if (ports.length < count) throw new Error("no free ports for a private Redis Cluster");
  return ports;
}

export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "gotaskq-cluster-"));
  const ports = await clusterPorts(3);
  const children: ChildProcess[] = ports.map((port) =>
    spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        dir,
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${port}.conf`,
        "--appendonly",
        "no",
        "--save",
        "",
      ],
      { stdio: "ignore" },
    ),
  );
  const cleanup = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once("exit", () => resolve());
            child.kill("SIGTERM");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const cli = (port: number, ...args: string[]) =>
      run("redis-cli", ["-p", String(port), ...args], { timeout: 30_000 });
    for (const port of ports) {
      for (let i = 0; ; i++) {
        const ok = await cli(port, "ping").then(
          (r) => r.stdout.includes("PONG"),
          () => false,
        );
        if (ok) break;
        if (i > 200) throw new Error(`cluster node ${port} did not start`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    await cli(
      ports[0] as number,
      "--cluster",
      "create",
      ...ports.map((port) => `127.0.0.1:${port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    );
    for (const port of ports) {
      for (let i = 0; ; i++) {
        const { stdout } = await cli(port, "cluster", "info");
        if (stdout.includes("cluster_state:ok")) break;
        if (i > 400) throw new Error(`cluster node ${port} never reached cluster_state:ok`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  } catch (error) {
    await cleanup();
    throw error;
  }
  return { url: `redis://127.0.0.1:${ports[0]}`, cleanup };
}

import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// The SQS emulator for tests: fauxqs 1.9.x (in memory, no persistence) in a child process of
// its own on 127.0.0.1, so a test can kill it by pid and start a new one on the same port.
//
// Limits of fauxqs 1.9.2 as measured against it (see src/broker/sqs/README section in the README):
// messages up to 1 MiB (body plus attributes), 10 entries per batch call and 1 MiB per batch,
// visibility and delays in whole seconds (0–43 200 s and 0–900 s), long polls up to 20 s,
// standard queues delivered in FIFO order, no authentication.

const SCRIPT = fileURLToPath(new URL("./fauxqs-process.ts", import.meta.url));

export interface Fauxqs {
  endpoint: string;
  port: number;
  pid: number;
  /** Stops the emulator (SIGTERM, then SIGKILL after 3 s); idempotent. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), as a crash would. */
  kill(): Promise<void>;
}

/** Starts fauxqs on `port` (default: any free port) and resolves once it listens. */
export function startFauxqs(options: { port?: number } = {}): Promise<Fauxqs> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", SCRIPT, String(options.port ?? 0)],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await exited;
      clearTimeout(timer);
    }
  };
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fauxqs did not start within 20 s (output: ${output})`));
    }, 20_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`fauxqs exited with code ${code} before listening (output: ${output})`));
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const match = /listening (\d+)/.exec(output);
      if (!match || child.pid === undefined) return;
      clearTimeout(timer);
      const port = Number(match[1]);
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        port,
        pid: child.pid,
        stop: () => stopWith("SIGTERM"),
        kill: () => stopWith("SIGKILL"),
      });
    });
  });
}

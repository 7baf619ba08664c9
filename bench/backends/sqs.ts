import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import type { BenchBackend, Scope } from "./backend.js";

// AWS SQS as the benchmark sees it: there is no AWS here, so the run starts the fauxqs emulator
// (1.9.x, in memory) in a process of its own on 127.0.0.1 and a free port, and both GoTaskQ and
// the raw ceiling talk to it over HTTP with the same SDK. Figures measure the client side and
// the emulator on this machine, not AWS's service (whose per-call latency is 10–30 ms, not ~1).

const REGION = "us-east-1";
const CREDENTIALS = { accessKeyId: "bench", secretAccessKey: "bench" };

/** fauxqs bound to 127.0.0.1 (its own startFauxqs listens on 0.0.0.0); prints its port. */
const LAUNCHER = `
import { buildApp } from "fauxqs";
const app = buildApp({ logger: false, host: "localhost" });
const address = await app.listen({ port: Number(process.argv[1] ?? 0), host: "127.0.0.1" });
process.stdout.write("listening " + new URL(address).port + "\\n");
const stop = () => { void app.close().then(() => process.exit(0)); };
process.once("SIGTERM", stop);
process.stdin.on("end", stop).resume();
`;

let emulator: { child: ChildProcess; endpoint: string } | undefined;

/** Queue-name prefixes are at most 40 characters: a scope is hashed to 10. */
function prefixOf(kind: "g" | "r", scope: Scope): string {
  return `${kind}${createHash("sha1").update(scope).digest("hex").slice(0, 9)}-`;
}

function url(prefix: string): string {
  if (!emulator) throw new Error("bench sqs backend: start() was not called");
  return `sqs://?region=${REGION}&endpoint=${encodeURIComponent(emulator.endpoint)}&prefix=${prefix}`;
}

function startEmulator(): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = spawn(process.execPath, ["--input-type=module", "-e", LAUNCHER, "0"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  return new Promise((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`fauxqs did not start: ${output}`)), 20_000);
    child.once("exit", (code) => reject(new Error(`fauxqs exited (${code}): ${output}`)));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const port = /listening (\d+)/.exec(output)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ child, endpoint: `http://127.0.0.1:${port}` });
    });
  });
}

export const backend: BenchBackend = {
  name: "sqs",
  title: "AWS SQS (fauxqs 1.9.2 emulator)",
  rawLabel: "raw @aws-sdk/client-sqs ceiling",
  rawDescription:
    "the same SDK against the same emulator as an expert would use it: SendMessageBatch of 10 with 16 calls in flight, parallel long-polling receive loops of 10 (concurrency / 10 of them), one DeleteMessageBatch per received batch, same envelope bytes, no GoTaskQ code.",
  async unavailable() {
    try {
      await import("fauxqs");
      return undefined;
    } catch (error) {
      return `the fauxqs emulator is not installed (${(error as Error).message})`;
    }
  },
  async start() {
    // The SDK warns once per process on Node 20; the children inherit this.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
    emulator ??= await startEmulator();
  },
  brokerUrl: (scope) => url(prefixOf("g", scope)),
  rawUrl: (scope) => url(prefixOf("r", scope)),
  async describe() {
    return "AWS SQS API on the fauxqs 1.9.2 emulator (in memory, no persistence; standard queues), @aws-sdk/client-sqs 3 over HTTP keep-alive on 127.0.0.1";
  },
  async stop() {
    const running = emulator;
    emulator = undefined;
    if (!running) return;
    const client = new SQSClient({
      region: REGION,
      endpoint: running.endpoint,
      credentials: CREDENTIALS,
    });
    // Drop the run's queues first (harmless: the emulator's state dies with it anyway).
    const out = await client.send(new ListQueuesCommand({})).catch(() => ({ QueueUrls: [] }));
    await Promise.allSettled(
      (out.QueueUrls ?? []).map((q) => client.send(new DeleteQueueCommand({ QueueUrl: q }))),
    );
    client.destroy();
    const exited = new Promise((resolve) => running.child.once("exit", resolve));
    running.child.kill("SIGTERM");
    await exited;
  },
};

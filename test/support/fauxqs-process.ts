import { buildApp } from "fauxqs";

// Runs the fauxqs SQS emulator in its own process, bound to 127.0.0.1 (fauxqs's own
// `startFauxqs` listens on 0.0.0.0), with its state in memory. Started by test/support/fauxqs.ts
// and bench/backends/sqs.ts: argv[2] is the port (0 = any free port). Prints `listening <port>`
// once it accepts connections, and exits on SIGTERM/SIGINT.

const requested = Number(process.argv[2] ?? "0");
const app = buildApp({ logger: false, host: "localhost" });
const address = await app.listen({ port: requested, host: "127.0.0.1" });
process.stdout.write(`listening ${new URL(address).port}\n`);
const stop = (): void => {
  void app.close().then(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
// The parent holds our stdin: when it dies (even by SIGKILL), stdin ends and so do we.
process.stdin.on("end", stop).on("close", stop).resume();

import {
  BestEffortWriter,
  createLogger,
  openBroker,
  openTracking,
  Producer,
} from "../src/index.js";
import { serveApp } from "./product-app-ipc.js";
import { FUNCTION_KEY, QUEUE } from "./product-clients.js";

// A user's own process submitting with the library, as README's "From code" shows: the broker
// (and, with tracking on, the tracking store behind a BestEffortWriter) opened by URL, a
// `Producer` with its default logger (stdout, default level), `submitBatch` of 1,000 one after
// another. It answers the queue's counts from its own broker connection (what GET /v1/queues
// reads), and at shutdown logs its writer's counters as the CLI does.

interface LibraryAppSpec {
  brokerUrl: string;
  /** `none`: no tracking sink at all. */
  trackingUrl: string;
  tasks: number;
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? "{}") as LibraryAppSpec;
  const logger = createLogger();
  const broker = await openBroker(spec.brokerUrl, { logger });
  const store = spec.trackingUrl === "none" ? undefined : await openTracking(spec.trackingUrl);
  const writer = store ? new BestEffortWriter(store, { logger }) : undefined;
  await writer?.start();
  const producer = new Producer({ broker, logger, ...(writer ? { tracking: writer } : {}) });
  serveApp({
    async submit() {
      let accepted = 0;
      for (let start = 0; start < spec.tasks; start += 1_000) {
        const items = [];
        for (let i = start; i < Math.min(spec.tasks, start + 1_000); i++) {
          items.push({ function_key: FUNCTION_KEY, payload: { i } });
        }
        const results = await producer.submitBatch(items);
        accepted += results.filter((r) => r.ok).length;
      }
      return accepted;
    },
    async counts() {
      return broker.stats(QUEUE);
    },
    async close() {
      if (writer) {
        await writer.stop();
        logger.info(
          { event: "tracking_writer_stats", ...writer.stats() },
          "tracking writer stopped",
        );
      }
      await store?.close();
      await broker.close();
    },
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`library app failed: ${String(error)}\n`);
  process.exit(1);
});

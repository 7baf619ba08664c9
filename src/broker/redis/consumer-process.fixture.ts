import { openRedisBroker } from "./redis-broker.js";

// A consumer process for redis-broker-faults.test.ts (run with `node --import tsx`): it holds every
// delivery like a handler stuck in a long task, extending each lease every leaseMs/3 as the
// worker's lease keeper does, and prints `holding <id> <deliveryCount>` per delivery and `ready`
// once subscribed. The test kills it with SIGKILL.
//
// argv: <url> <prefix> <queue> <prefetch> <leaseMs>

const [url, prefix, queue, prefetch, leaseMs] = process.argv.slice(2);
if (!url || !prefix || !queue) {
  process.stderr.write(
    "usage: consumer-process.fixture.ts <url> <prefix> <queue> <prefetch> <leaseMs>\n",
  );
  process.exit(2);
}
const lease = Number(leaseMs);
const broker = openRedisBroker({ url, prefix, warn: () => {} });
await broker.consume([queue], { prefetch: Number(prefetch), leaseMs: lease }, (delivery) => {
  process.stdout.write(`holding ${delivery.id} ${delivery.deliveryCount}\n`);
  setInterval(
    () => {
      delivery.extendLease(lease).catch((error: unknown) => {
        process.stdout.write(`extend-failed ${delivery.id} ${String(error)}\n`);
      });
    },
    Math.floor(lease / 3),
  );
});
process.stdout.write("ready\n");

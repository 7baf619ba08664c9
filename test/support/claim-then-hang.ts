import { openBroker } from "../../src/backends/open.js";
import { openCoordinationStore } from "../../src/coordination/open.js";
import { silentLogger } from "../../src/logging/logger.js";
import { Producer } from "../../src/producer/producer.js";

// A producer process for the kill -9 test, run as
//   node --import tsx claim-then-hang.ts <brokerUrl> <coordinationUrl> <idempotencyKey> <pendingTtlMs>
// It submits demo.echo with the key, takes the key (a short pending claim), prints
// "CLAIMED <task id>" and then waits forever before publishing, so that the test can SIGKILL it
// exactly between taking the key and the broker's confirmation. Test-only: the pause is the
// Producer's `afterClaimForTests` hook, which production wiring never sets.

const [brokerUrl, coordinationUrl, key, pendingTtlMs] = process.argv.slice(2);
if (!brokerUrl || !coordinationUrl || !key || !pendingTtlMs) {
  throw new Error("usage: claim-then-hang.ts <brokerUrl> <coordinationUrl> <key> <pendingTtlMs>");
}
const broker = await openBroker(brokerUrl);
const coordination = await openCoordinationStore(coordinationUrl);
const producer = new Producer({
  broker,
  coordination,
  logger: silentLogger(),
  claimTiming: { pendingTtlMs: Number(pendingTtlMs) },
  afterClaimForTests: async (taskId) => {
    process.stdout.write(`CLAIMED ${taskId}\n`);
    await new Promise(() => undefined);
  },
});
await producer.submit({
  function_key: "demo.echo",
  payload: { crash: true },
  idempotency_key: key,
});

import { randomBytes } from "node:crypto";
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll } from "vitest";
import { type Fauxqs, startFauxqs } from "../../../test/support/fauxqs.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { openSqsBroker } from "./sqs-broker.js";

// The SQS broker on the shared conformance suite, against the fauxqs emulator in a process of
// its own (test/support/fauxqs.ts). Each harness is a fresh queue-name prefix.

let emulator: Fauxqs;
beforeAll(async () => {
  emulator = await startFauxqs();
});
afterAll(async () => {
  await emulator?.stop();
});

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

async function deleteQueues(prefix: string): Promise<void> {
  const client = new SQSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials });
  const out = await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  await Promise.all(
    (out.QueueUrls ?? []).map((url) => client.send(new DeleteQueueCommand({ QueueUrl: url }))),
  );
  client.destroy();
}

describeBrokerConformance(
  "sqs",
  async () => {
    const prefix = `t${randomBytes(4).toString("hex")}-`;
    return {
      open: async () =>
        openSqsBroker({ endpoint: emulator.endpoint, region: "us-east-1", prefix, credentials }),
      cleanup: () => deleteQueues(prefix),
    };
  },
  {
    // SQS counts visibility timeouts in whole seconds.
    leaseMs: 1_000,
    skip: {
      "priority-order":
        "priority lanes group priorities (3 lanes by default: 0–3, 4–6, 7–9); order inside a lane is SQS's, not by priority",
    },
  },
);

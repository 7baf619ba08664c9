import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe } from "vitest";
import { type Fauxqs, startFauxqs } from "../../test/support/fauxqs.js";
import { SERVICES, serviceAvailable } from "../../test/support/services.js";
import { createMemoryBroker } from "../broker/memory/memory-broker.js";
import { MemoryNamespace } from "../broker/memory/memory-namespace.js";
import { openRedisBroker } from "../broker/redis/redis-broker.js";
import { deleteKeys, uniquePrefix } from "../broker/redis/test-namespace.fixture.js";
import { openSqliteBroker } from "../broker/sqlite/sqlite-broker.js";
import { openSqsBroker } from "../broker/sqs/sqs-broker.js";
import { describeUnknownFunctions } from "./unknown-functions.case.js";

// Two workers of different registries on one queue, on every broker but RabbitMQ (which runs the
// same case in rabbitmq-broker.test.ts): see unknown-functions.case.ts.

describeUnknownFunctions("memory", async () => {
  const namespace = new MemoryNamespace({});
  return {
    open: async () => createMemoryBroker({ namespace }),
    cleanup: async () => namespace.close(),
  };
});

describeUnknownFunctions("sqlite", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-unknown-"));
  const file = path.join(dir, "broker.db");
  return {
    open: async () => openSqliteBroker({ path: file, pollIntervalMs: 20 }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const redis = await serviceAvailable("redis");
describe.skipIf(!redis)("redis", () => {
  describeUnknownFunctions("redis", async () => {
    const prefix = uniquePrefix();
    return {
      open: async () => openRedisBroker({ url: SERVICES.redis.url, prefix, warn: () => {} }),
      cleanup: () => deleteKeys(SERVICES.redis.url, prefix),
    };
  });
});

describe("sqs", () => {
  let emulator: Fauxqs;
  beforeAll(async () => {
    emulator = await startFauxqs();
  });
  afterAll(async () => {
    await emulator?.stop();
  });
  describeUnknownFunctions(
    "sqs",
    async () => {
      const prefix = `u${Math.random().toString(16).slice(2, 8)}-`;
      return {
        open: async () =>
          openSqsBroker({
            endpoint: emulator.endpoint,
            region: "us-east-1",
            prefix,
            credentials: { accessKeyId: "test", secretAccessKey: "test" },
          }),
      };
    },
    // SQS delays in whole seconds: each hand-back waits at least one.
    { timeoutMs: 30_000 },
  );
});

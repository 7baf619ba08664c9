import { randomBytes } from "node:crypto";
import { describe } from "vitest";
import { SERVICES, serviceAvailable } from "../../../test/support/services.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { openRabbitBroker } from "./rabbitmq-broker.js";

// Every test that touches RabbitMQ lives in this one file, so they run one after another: the
// fault test stops the broker application, which no other RabbitMQ test may see. Each harness
// works under its own name prefix and deletes what it declared afterwards.

const available = await serviceAvailable("rabbitmq");
const AMQP = SERVICES.rabbitmq.url;

function prefixed(extra = ""): string {
  const prefix = `t-${randomBytes(5).toString("hex")}.`;
  return `${AMQP}?prefix=${prefix}${extra}`;
}

function harness(extra = "") {
  return async () => {
    const url = prefixed(extra);
    return {
      open: async () => openRabbitBroker(url),
      cleanup: async () => {
        const admin = openRabbitBroker(url);
        try {
          await admin.destroy();
        } finally {
          await admin.close();
        }
      },
    };
  };
}

const NO_LEASES =
  "RabbitMQ has no per-message lease: a delivery stays with its consumer while the consumer's channel lives (bounded by consumer_timeout), so another consumer cannot take it from a live holder";

describe.skipIf(!available)("rabbitmq broker", () => {
  describeBrokerConformance("rabbitmq (classic queues)", harness(), {
    skip: { "lease-lost": NO_LEASES },
  });
});

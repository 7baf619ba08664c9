import net from "node:net";
import amqp from "amqplib";
import { openRabbitBroker } from "../../src/broker/rabbitmq/rabbitmq-broker.js";
import type { BenchBackend, Scope } from "./backend.js";

// RabbitMQ on its standard local port (BENCH_AMQP_URL to point elsewhere). Every cell works under
// its own name prefix (`bench-<scope>.`), GoTaskQ's and the raw ceiling's alike; `stop` deletes
// what each prefix declared.

const AMQP_URL = process.env.BENCH_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672";

/** The prefix of one cell: GoTaskQ's `?prefix=` option; the raw ceiling reads the same option. */
const prefixOf = (scope: Scope) => `bench-${scope}.`;
const urlOf = (scope: Scope) =>
  `${AMQP_URL}${AMQP_URL.includes("?") ? "&" : "?"}prefix=${prefixOf(scope)}`;

const gotaskqScopes = new Set<Scope>();
const rawScopes = new Set<Scope>();

function reachable(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect({ host: hostname, port: Number(port || 5672) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export const backend: BenchBackend = {
  name: "rabbitmq",
  title: "RabbitMQ (classic queues)",
  rawLabel: "raw amqplib ceiling",
  rawDescription:
    "amqplib used directly as an expert would: persistent messages into the same durable classic queue (x-max-priority 9), publisher confirms awaited per batch of 1,000 (never per message) on a publisher connection of its own, a consumer connection with prefetch = concurrency and acks grouped with `multiple`; same envelope bytes, no GoTaskQ code.",
  async unavailable() {
    return (await reachable(AMQP_URL))
      ? undefined
      : `RabbitMQ is not reachable at ${new URL(AMQP_URL).host} (start it: rabbitmq-server -detached)`;
  },
  async start() {},
  brokerUrl(scope) {
    gotaskqScopes.add(scope);
    return urlOf(scope);
  },
  rawUrl(scope) {
    rawScopes.add(scope);
    return urlOf(scope);
  },
  async describe() {
    const connection = await amqp.connect(AMQP_URL);
    try {
      const version = String(connection.connection.serverProperties.version ?? "?");
      return `RabbitMQ ${version}: durable classic queues, persistent messages (fsync'd by the broker before it confirms), publisher confirms`;
    } finally {
      await connection.close();
    }
  },
  async stop(runId) {
    for (const scope of gotaskqScopes) {
      if (!scope.startsWith(runId)) continue;
      const broker = openRabbitBroker(urlOf(scope));
      await broker.destroy().catch(() => undefined);
      await broker.close();
    }
    const connection = await amqp.connect(AMQP_URL);
    try {
      connection.on("error", () => undefined);
      for (const scope of rawScopes) {
        if (!scope.startsWith(runId)) continue;
        const channel = await connection.createChannel();
        channel.on("error", () => undefined);
        // The raw ceiling's queue: its prefix + the run's queue name of the scope's group.
        const group = scope.endsWith("-mixed") ? "mixed" : "backlog";
        await channel
          .deleteQueue(`${prefixOf(scope)}bench-${group}-${runId}`)
          .catch(() => undefined);
        await channel.close().catch(() => undefined);
      }
    } finally {
      await connection.close();
    }
  },
};

import net from "node:net";

// Adapter suites run against real servers on their standard local ports. On a developer machine
// without the server the suite is skipped with a loud notice; under CI=true (or
// GOTASKQ_TEST_REQUIRE_SERVICES=1) a missing server fails the run instead.

export const SERVICES = {
  postgres: {
    host: "127.0.0.1",
    port: 5432,
    url: process.env.GOTASKQ_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/test",
  },
  redis: {
    host: "127.0.0.1",
    port: 6379,
    url: process.env.GOTASKQ_TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
  },
  rabbitmq: {
    host: "127.0.0.1",
    port: 5672,
    url: process.env.GOTASKQ_TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
  },
} as const;

export type ServiceName = keyof typeof SERVICES;

function reachable(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export function servicesRequired(): boolean {
  return process.env.CI === "true" || process.env.GOTASKQ_TEST_REQUIRE_SERVICES === "1";
}

/** true when the service answers; false (with a loud notice) when absent and not required. */
export async function serviceAvailable(name: ServiceName): Promise<boolean> {
  const { host, port } = SERVICES[name];
  if (await reachable(host, port)) return true;
  const message = `${name} is not reachable on ${host}:${port}`;
  if (servicesRequired())
    throw new Error(`${message}; CI=true requires it (start it, see .ci/run)`);
  console.warn(`\n!!! SKIPPING ${name} suites: ${message}. Set CI=true to make this a failure.\n`);
  return false;
}

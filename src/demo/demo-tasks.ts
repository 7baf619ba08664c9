import { sleep } from "../core/lifecycle.js";
import { defineTasks, type TaskRegistry } from "../tasks/registry.js";

// The four demo functions `gotaskq dev` registers when no task module is given; they are also the
// fixtures of the end-to-end tests. Their backoff is short so a demo retry is seen in seconds.

const quickBackoff = { type: "exponential", base_ms: 200, max_ms: 2_000 } as const;

function field(payload: unknown, key: string): unknown {
  return typeof payload === "object" && payload !== null
    ? (payload as Record<string, unknown>)[key]
    : undefined;
}

export function demoTasks(): TaskRegistry {
  return defineTasks({
    "demo.echo": {
      description: "returns its payload",
      handler: (payload) => payload,
    },
    "demo.sleep": {
      description: "sleeps for payload.ms milliseconds (default 1000), honouring cancellation",
      schema: {
        type: "object",
        properties: { ms: { type: "integer", minimum: 0, maximum: 86_400_000 } },
      },
      // 20 minutes: below RabbitMQ's default consumer_timeout (30 min), which a worker refuses to exceed.
      timeoutMs: 1_200_000,
      handler: async (payload, ctx) => {
        const ms = (field(payload, "ms") as number | undefined) ?? 1_000;
        ctx.log.info(`sleeping ${ms} ms`);
        await sleep(ms, ctx.signal);
        return { slept_ms: ms };
      },
    },
    "demo.fail": {
      description: "always throws payload.message",
      backoff: quickBackoff,
      handler: (payload, ctx) => {
        const message = String(field(payload, "message") ?? "demo.fail always fails");
        ctx.log.warn(`failing on attempt ${ctx.attempt}`);
        throw new Error(message);
      },
    },
    "demo.flaky": {
      description:
        "throws on attempts 0 to payload.failures − 1, then returns {attempt} (the attempt that succeeded)",
      schema: {
        type: "object",
        properties: { failures: { type: "integer", minimum: 0, maximum: 100 } },
      },
      backoff: quickBackoff,
      handler: (payload, ctx) => {
        const failures = (field(payload, "failures") as number | undefined) ?? 1;
        if (ctx.attempt < failures)
          throw new Error(
            `flaky: failing on attempt ${ctx.attempt} (fails while attempt < ${failures})`,
          );
        return { attempt: ctx.attempt };
      },
    },
  });
}

/** Adds every function of `extra` to `registry` (a user's module beside the demo functions). */
export function mergeRegistries(registry: TaskRegistry, extra: TaskRegistry): TaskRegistry {
  for (const key of extra.keys()) {
    const task = extra.require(key);
    registry.register(key, task.handler, { ...task.options });
  }
  return registry;
}

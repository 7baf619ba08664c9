// An example task module: `npx gotaskq worker --tasks examples/tasks.ts` runs it. A task is a plain
// async function (payload, ctx) => result, registered under a function key.
import { defineTasks, PermanentError } from "gotaskq";

interface ResizePayload {
  url: string;
  width: number;
}

export default defineTasks({
  // The shortest form: a key and a function.
  "text.upper": async (payload: { text: string }) => payload.text.toUpperCase(),

  // With a payload schema (checked before the handler runs; a mismatch goes to the DLQ without
  // retries) and per-function defaults.
  "image.resize": {
    schema: {
      type: "object",
      required: ["url", "width"],
      properties: {
        url: { type: "string" },
        width: { type: "integer", minimum: 1, maximum: 10_000 },
      },
    },
    timeoutMs: 60_000,
    maxRetries: 5,
    backoff: { type: "exponential", base_ms: 500, max_ms: 60_000 },
    handler: async (payload: ResizePayload, ctx) => {
      if (!payload.url.startsWith("https://")) {
        // Retrying cannot fix this input: fail at once.
        throw new PermanentError(`only https URLs can be fetched (got ${payload.url})`);
      }
      ctx.log.info(`resizing ${payload.url} to ${payload.width}px (attempt ${ctx.attempt})`);
      // Long work should watch ctx.signal: it aborts on timeout, cancel and shutdown.
      const response = await fetch(payload.url, { signal: ctx.signal }).catch(() => undefined);
      return { url: payload.url, width: payload.width, fetched: response?.ok ?? false };
    },
  },
});

import { Agent, request as httpRequest } from "node:http";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";

// The users' side of the product phase, in the orchestrator: REST clients submitting `demo.echo`
// tasks (payload {"i":n}) to a running `gotaskq dev` or `gotaskq server`, and the watcher that
// ends every cell the way the issue measures it: once every submission was accepted, ask the
// queue (GET /v1/queues, or the same counts from another source) until nothing is ready, in
// flight or delayed. Request bodies are built before the clock starts: a client's JSON encoding
// is not what the product costs.

export const FUNCTION_KEY = "demo.echo";
/** Where a task without `queue` goes, and what `gotaskq worker` consumes by default. */
export const QUEUE = "default";
const BATCH_SIZE = 1_000;

export interface QueueCounts {
  ready: number;
  inFlight: number;
  delayed: number;
  deadLettered: number;
}

export type RestLoad =
  /** `clients` sequential loops, each POSTing its share of the batches one after another. */
  | { kind: "batches"; clients: number }
  /** One task per POST /v1/tasks, `inFlight` requests outstanding at any time. */
  | { kind: "singles"; inFlight: number };

function headers(apiKey: string): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, "content-type": "application/json" };
}

async function post(url: string, apiKey: string, body: string): Promise<unknown> {
  const response = await fetch(url, { method: "POST", headers: headers(apiKey), body });
  const text = await response.text();
  if (response.status !== 202) {
    throw new Error(`POST ${new URL(url).pathname}: ${response.status} ${text.slice(0, 200)}`);
  }
  return JSON.parse(text) as unknown;
}

function batchBodies(tasks: number): string[] {
  const bodies: string[] = [];
  for (let start = 0; start < tasks; start += BATCH_SIZE) {
    const items = [];
    for (let i = start; i < Math.min(tasks, start + BATCH_SIZE); i++) {
      items.push({ function_key: FUNCTION_KEY, payload: { i } });
    }
    bodies.push(JSON.stringify({ tasks: items }));
  }
  return bodies;
}

function acceptedOf(answer: unknown): number {
  const results = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) throw new Error("POST /v1/tasks/batch: no results in the answer");
  return results.filter((r) => typeof r === "object" && r !== null && "id" in r).length;
}

/** Prepares the bodies; `run` submits them all and resolves with the tasks accepted. */
export function restLoad(
  baseUrl: string,
  apiKey: string,
  tasks: number,
  load: RestLoad,
): { run(): Promise<number> } {
  if (load.kind === "batches") {
    const bodies = batchBodies(tasks);
    const url = `${baseUrl}/v1/tasks/batch`;
    return {
      async run() {
        let next = 0;
        let accepted = 0;
        const client = async () => {
          for (let body = bodies[next++]; body; body = bodies[next++]) {
            // Read after the await: `accepted += await …` would add to a stale value.
            const answer = await post(url, apiKey, body);
            accepted += acceptedOf(answer);
          }
        };
        await Promise.all(Array.from({ length: load.clients }, client));
        return accepted;
      },
    };
  }
  const url = new URL(`${baseUrl}/v1/tasks`);
  const inFlight = Math.min(load.inFlight, tasks);
  const agent = new Agent({ keepAlive: true, maxSockets: inFlight });
  return {
    async run() {
      let next = 0;
      let accepted = 0;
      const lane = async () => {
        for (let i = next++; i < tasks; i = next++) {
          const body = JSON.stringify({ function_key: FUNCTION_KEY, payload: { i } });
          const answer = await httpPost(url, agent, apiKey, body);
          if (answer.status !== 202) {
            throw new Error(`POST /v1/tasks: ${answer.status} ${answer.text.slice(0, 200)}`);
          }
          accepted++;
        }
      };
      try {
        await Promise.all(Array.from({ length: inFlight }, lane));
      } finally {
        agent.destroy();
      }
      return accepted;
    },
  };
}

/**
 * One POST on a keep-alive agent. Not fetch: at 64 requests in flight fetch's own CPU, in this
 * process, capped the rate at a third of autocannon's against the same server; and autocannon
 * ends a fixed number of requests only on its next one-second tick.
 */
function httpPost(
  url: URL,
  agent: Agent,
  apiKey: string,
  body: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      url,
      {
        method: "POST",
        agent,
        headers: { ...headers(apiKey), "content-length": Buffer.byteLength(body) },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
        response.on("error", reject);
      },
    );
    request.setTimeout(30_000, () =>
      request.destroy(new Error("POST /v1/tasks: no answer in 30 s")),
    );
    request.on("error", reject);
    request.end(body);
  });
}

/** GET /v1/queues with the API key: the counts of `QUEUE`, or undefined while it is not listed. */
export async function restQueueCounts(
  baseUrl: string,
  apiKey: string,
): Promise<QueueCounts | undefined> {
  const response = await fetch(`${baseUrl}/v1/queues`, { headers: headers(apiKey) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /v1/queues: ${response.status} ${text}`);
  const { queues } = JSON.parse(text) as { queues: Record<string, unknown>[] };
  const q = queues.find((entry) => entry.queue === QUEUE);
  if (!q) return undefined;
  return {
    ready: Number(q.ready),
    inFlight: Number(q.in_flight),
    delayed: Number(q.delayed),
    deadLettered: Number(q.dead_lettered),
  };
}

/**
 * Asks `counts` every `pollMs` until the queue is empty; resolves with `performance.now()` of the
 * answer that said so and the dead-letter count then. Rejects when `deadline` passes first.
 */
export async function waitUntilDrained(
  counts: () => Promise<QueueCounts | undefined>,
  pollMs: number,
  deadline: number,
): Promise<{ at: number; deadLettered: number }> {
  let last: QueueCounts | undefined;
  while (performance.now() < deadline) {
    last = await counts();
    if (last && last.ready + last.inFlight + last.delayed === 0) {
      return { at: performance.now(), deadLettered: last.deadLettered };
    }
    await sleep(pollMs);
  }
  const seen = last
    ? `ready ${last.ready}, in flight ${last.inFlight}, delayed ${last.delayed}`
    : "queue not listed";
  throw new Error(`queue not empty before the cell's timeout (${seen})`);
}

import * as grpc from "@grpc/grpc-js";
import Fastify from "fastify";
import { loadTaskService } from "./api-proto.js";
import type { ChildSpec } from "./protocol.js";
import type { PreparedRole } from "./role.js";

// The references the API is measured against, each in its own child like the server under test:
// - `fastify-hello`: a bare Fastify app (no logger, no schema, no auth) whose POST /v1/tasks and
//   POST /v1/tasks/batch parse the same JSON body GoTaskQ receives and answer 202 with a small
//   fixed JSON document. The ratio submit / hello-world is what GoTaskQ's own work costs on top
//   of HTTP + Fastify + JSON parsing.
// - `grpc-stub`: grpc-js serving the same proto, SubmitTask answering a fixed SubmittedTask.
// Each counts the tasks it received between `go` and `stop`, so CPU per task means the same in
// every cell.

type ApiTarget = Extract<ChildSpec["target"], { system: "api" }>;

/** The shape of GoTaskQ's 202 answer, with fixed values. */
const ACCEPTED = {
  id: "01938f4e-7b2a-7c3d-8e4f-5a6b7c8d9e0f",
  status: "PENDING",
  function_key: "bench.noop",
  queue: "bench",
  priority: 5,
  run: 0,
  attempt: 0,
  created_at: "2026-11-27T12:00:00.000Z",
};

function tasksIn(body: unknown): number {
  const tasks = (body as { tasks?: unknown } | null)?.tasks;
  return Array.isArray(tasks) ? tasks.length : 0;
}

/** Serves until `stop` aborts; `count` is read when the measured window opens and closes. */
function serveUntilStopped(count: () => number, close: () => Promise<void>, endpoint: string) {
  return {
    endpoint,
    async run(stop: AbortSignal) {
      const atGo = count();
      await new Promise<void>((resolve) => {
        if (stop.aborted) resolve();
        else stop.addEventListener("abort", () => resolve(), { once: true });
      });
      return { count: count() - atGo };
    },
    close,
  } satisfies PreparedRole;
}

async function fastifyHello(target: ApiTarget): Promise<PreparedRole> {
  let received = 0;
  const app = Fastify({ logger: false, bodyLimit: target.bodyLimitBytes });
  app.post("/v1/tasks", async (_request, reply) => {
    received++;
    return reply.code(202).send(ACCEPTED);
  });
  app.post("/v1/tasks/batch", async (request, reply) => {
    const n = tasksIn(request.body);
    received += n;
    return reply.code(202).send({ accepted: n });
  });
  const url = await app.listen({ host: "127.0.0.1", port: 0 });
  return serveUntilStopped(
    () => received,
    () => app.close(),
    url,
  );
}

async function grpcStub(): Promise<PreparedRole> {
  let received = 0;
  const server = new grpc.Server();
  server.addService(loadTaskService(), {
    SubmitTask: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => {
      received++;
      callback(null, { ...ACCEPTED, status: "TASK_STATUS_PENDING" });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    );
  });
  const close = () =>
    new Promise<void>((resolve) => {
      server.tryShutdown(() => resolve());
    });
  return serveUntilStopped(() => received, close, `127.0.0.1:${port}`);
}

export async function prepareBareServer(spec: ChildSpec): Promise<PreparedRole> {
  if (spec.target.system !== "api") throw new Error("api-bare-servers: wrong target");
  switch (spec.target.server) {
    case "fastify-hello":
      return fastifyHello(spec.target);
    case "grpc-stub":
      return grpcStub();
    default:
      throw new Error(`api-bare-servers: ${spec.target.server} is not a bare server`);
  }
}

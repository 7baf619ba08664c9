import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DEFAULT_CONFIG, type GoTaskQConfig } from "../config/config.js";
import { demoTasks } from "../demo/demo-tasks.js";
import { silentLogger } from "../logging/logger.js";
import { createServer, type GoTaskQServer } from "./server.js";
import { createWorkerApp } from "./worker.js";

const KEY = "gtq_app_test_key_0123456789abcdefghij";
const dirs: string[] = [];
const running: { stop(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((app) => app.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function configIn(overrides: Partial<GoTaskQConfig> = {}): GoTaskQConfig {
  const dir = mkdtempSync(path.join(tmpdir(), "gotaskq-app-"));
  dirs.push(dir);
  return {
    ...DEFAULT_CONFIG,
    brokerUrl: `sqlite://${dir}/broker.db`,
    trackingUrl: `sqlite://${dir}/tracking.db`,
    httpPort: 0,
    grpcPort: 0,
    apiKeys: [KEY],
    apiKeysFile: path.join(dir, "api-keys.json"),
    operatorsFile: path.join(dir, "operators.json"),
    ...overrides,
  };
}

async function started(app: GoTaskQServer): Promise<GoTaskQServer> {
  running.push(app);
  await app.start();
  return app;
}

describe("the composition root", () => {
  it("serves REST and gRPC over one producer and backends, and runs what it accepts", async () => {
    const registry = demoTasks();
    const app = await started(
      createServer(configIn(), {
        logger: silentLogger(),
        registry,
        operators: [{ name: "admin", role: "operator", password: "correct horse battery" }],
        worker: { registry },
      }),
    );
    expect(app.grpc?.port).toBeGreaterThan(0);
    expect(app.operatorCount).toBe(1);
    const response = await fetch(`${app.rest?.url}/v1/tasks`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ function_key: "demo.echo", payload: { hello: "world" } }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };
    for (let i = 0; i < 250; i++) {
      if ((await app.backends.tracking.get(id))?.status === "SUCCESS") break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await app.backends.tracking.get(id))?.status).toBe("SUCCESS");
  });

  it("stops in reverse and closes the backends it opened; stop is idempotent", async () => {
    const app = createServer(configIn(), {
      logger: silentLogger(),
      transports: { rest: true, dashboard: false, grpc: false },
    });
    await app.start();
    const broker = app.backends.broker;
    await Promise.all([app.stop(), app.stop()]);
    await expect(broker.ping()).rejects.toMatchObject({ code: "unavailable" });
    expect(() => app.backends.broker).toThrow(/await start\(\)/);
  });

  it("leaves nothing open when a part cannot start (a bad tracking URL)", async () => {
    const app = createServer(configIn({ trackingUrl: "mysql://nowhere" }), {
      logger: silentLogger(),
    });
    await expect(app.start()).rejects.toMatchObject({ code: "invalid_argument" });
    await app.stop();
  });

  it("runs a worker alone on its own backends", async () => {
    const config = configIn();
    const app = createWorkerApp(config, { registry: demoTasks(), logger: silentLogger() });
    running.push(app);
    await app.start();
    expect(app.worker).toBeDefined();
    await app.stop();
  });
});

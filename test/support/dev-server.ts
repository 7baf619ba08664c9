import { Sandbox } from "./cli.js";

// A real `gotaskq dev` process with its REST and gRPC endpoints on free ports, for the API
// end-to-end suites.

export const ADMIN_KEY = "gtq_test_admin_0123456789abcdef0123456789";

export interface DevServer {
  box: Sandbox;
  restUrl: string;
  grpcAddress: string;
  /** The dashboard's URL and the dev operator's password, as `gotaskq dev` printed them. */
  dashboardUrl: string;
  /** The generated password of operator `admin` (or GOTASKQ_DEV_PASSWORD when the env sets it). */
  dashboardPassword: string;
  /** Everything the dev process printed so far (stdout and stderr). */
  output(): string;
  /** fetch against the REST API with the admin key unless `key` says otherwise (null = no key). */
  api(
    path: string,
    init?: {
      method?: string;
      body?: unknown;
      rawBody?: string;
      contentType?: string;
      key?: string | null;
    },
  ): Promise<{ status: number; headers: Headers; json: unknown }>;
}

export async function startDevServer(env: Record<string, string> = {}): Promise<DevServer> {
  const box = new Sandbox({ GOTASKQ_API_KEYS: ADMIN_KEY, ...env });
  const dev = await box.start(["dev", "--concurrency", "16"], { readyText: "Stop with Ctrl+C" });
  const restUrl = /REST:\s+(http:\/\/\S+)/.exec(dev.output())?.[1];
  const grpcAddress = /gRPC:\s+(\S+)/.exec(dev.output())?.[1];
  const dashboard = /^Dashboard: {2}(http:\/\/\S+\/) {2}\(operator admin, password (.+)\)$/m.exec(
    dev.output(),
  );
  if (!restUrl || !grpcAddress || !dashboard)
    throw new Error(`could not read the endpoints from:\n${dev.output()}`);
  const printed = dashboard[2] as string;
  const fromEnv = env.GOTASKQ_DEV_PASSWORD ?? process.env.GOTASKQ_DEV_PASSWORD;
  return {
    box,
    restUrl,
    grpcAddress,
    dashboardUrl: dashboard[1] as string,
    output: () => dev.output(),
    dashboardPassword:
      printed === "from GOTASKQ_DEV_PASSWORD" && fromEnv !== undefined ? fromEnv : printed,
    async api(path, init = {}) {
      const headers: Record<string, string> = {};
      const key = init.key === undefined ? ADMIN_KEY : init.key;
      if (key !== null) headers.authorization = `Bearer ${key}`;
      let body: string | undefined;
      if (init.rawBody !== undefined || init.body !== undefined) {
        headers["content-type"] = init.contentType ?? "application/json";
        body = init.rawBody ?? JSON.stringify(init.body);
      }
      const response = await fetch(`${restUrl}${path}`, {
        method: init.method ?? (body ? "POST" : "GET"),
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      let json: unknown = text;
      try {
        json = JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, headers: response.headers, json };
    },
  };
}

import type { BenchBackend } from "./backend.js";

// Finds a backend's module by name. A backend whose module is not in this checkout is reported
// as unavailable rather than failing the run, so `BENCH_BACKENDS` can name every backend.

export const BACKENDS = ["sqlite", "redis", "rabbitmq", "sqs"] as const;
export type BackendName = (typeof BACKENDS)[number];

export type LoadedBackend =
  | { ok: true; backend: BenchBackend }
  | { ok: false; name: BackendName; reason: string };

export async function loadBackend(name: BackendName): Promise<LoadedBackend> {
  let backend: BenchBackend;
  try {
    ({ backend } = (await import(`./${name}.js`)) as { backend: BenchBackend });
  } catch (error) {
    return { ok: false, name, reason: `no bench module (${(error as Error).message})` };
  }
  const reason = await backend.unavailable().catch((error: unknown) => String(error));
  return reason === undefined ? { ok: true, backend } : { ok: false, name, reason };
}

import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { CLI_MAIN, startProcess } from "./cli-process.js";

// The CLI start-up section of `npm run bench` (issue 15: `gotaskq --help` under 300 ms and
// `gotaskq status <id>` under 500 ms). Each command runs as a user's shell runs it, `node
// dist/cli/main.js …` in a fresh process, timed from spawn to exit, `runs` times after one
// unmeasured run (the file cache); the report gives the median, the fastest and the slowest.
// `status` asks about the one task of a `gotaskq dev` running in the same folder, on its default
// SQLite files, as in the README's quick start. Node's own start-up (`node -e ""`) is measured
// beside them: what no change to the CLI can remove. `BENCH_CLI=only` runs this section alone.

export interface CliStartupOptions {
  /** Timed runs per command (`BENCH_CLI_RUNS`, default 15). */
  runs: number;
  tempRoot: string;
}

interface Row {
  command: string;
  /** Under this median, the target is met; undefined: no target (the reference). */
  targetMs?: number;
  /** Wall times, ms, sorted. */
  times: number[];
}

/** Environment without the caller's GOTASKQ_* (each process gets the CLI's defaults). */
function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith("GOTASKQ_")) env[name] = value;
  }
  return env;
}

function timeRuns(
  args: string[],
  runs: number,
  options: { cwd: string; env: Record<string, string> },
): number[] {
  const once = () => {
    const started = performance.now();
    const r = spawnSync(process.execPath, args, { ...options, stdio: "pipe", timeout: 30_000 });
    const ms = performance.now() - started;
    if (r.status !== 0) {
      throw new Error(`node ${args.join(" ")} exited ${r.status}: ${String(r.stderr).trim()}`);
    }
    return ms;
  };
  once(); // unmeasured: loads the files into the page cache
  return Array.from({ length: runs }, once).sort((a, b) => a - b);
}

const median = (sorted: number[]) => sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;

function render(rows: Row[], runs: number): string {
  const line = (r: Row) => {
    const m = median(r.times);
    const verdict =
      r.targetMs === undefined ? "reference" : m < r.targetMs ? "✅ met" : "❌ missed";
    const target = r.targetMs === undefined ? "—" : `< ${r.targetMs} ms`;
    const ms = (n: number | undefined) => (n === undefined ? "?" : Math.round(n).toString());
    return `| \`${r.command}\` | ${ms(m)} | ${ms(r.times[0])} | ${ms(r.times.at(-1))} | ${target} | ${verdict} |`;
  };
  return [
    "## CLI start-up",
    "",
    `Wall time from spawn to exit of a fresh \`node dist/cli/main.js …\` process, ${runs} runs each after one unmeasured run; \`status\` reads the one task of a \`gotaskq dev\` running in the same folder (default SQLite files).`,
    "",
    "| command | median (ms) | fastest (ms) | slowest (ms) | target (median) | |",
    "|---|---:|---:|---:|---|---|",
    ...rows.map(line),
    "",
  ].join("\n");
}

/** Starts a dev with one finished task, times the commands, stops the dev; the report section. */
export async function runCliStartupPhase(options: CliStartupOptions): Promise<string> {
  const dir = path.join(options.tempRoot, "cli-startup");
  mkdirSync(dir, { recursive: true });
  const env = { ...cleanEnv(), GOTASKQ_HTTP_PORT: "0", GOTASKQ_GRPC_PORT: "0" };
  const dev = await startProcess({
    label: "cli-dev",
    args: [CLI_MAIN, "dev"],
    cwd: dir,
    env,
    banner: /Stop with Ctrl\+C/,
    readyTimeoutMs: 60_000,
  });
  try {
    const submitted = spawnSync(
      process.execPath,
      [CLI_MAIN, "submit", "demo.echo", '{"bench":"cli"}', "--wait", "--json"],
      { cwd: dir, env, stdio: "pipe", timeout: 60_000 },
    );
    if (submitted.status !== 0) {
      throw new Error(`submit failed (${submitted.status}): ${String(submitted.stderr).trim()}`);
    }
    const { id } = JSON.parse(String(submitted.stdout)) as { id: string };
    process.stderr.write(`bench: CLI start-up, ${options.runs} runs per command…\n`);
    const at = { cwd: dir, env };
    const rows: Row[] = [
      { command: 'node -e ""', times: timeRuns(["-e", ""], options.runs, at) },
      {
        command: "gotaskq --help",
        targetMs: 300,
        times: timeRuns([CLI_MAIN, "--help"], options.runs, at),
      },
      {
        command: "gotaskq status <id>",
        targetMs: 500,
        times: timeRuns([CLI_MAIN, "status", id], options.runs, at),
      },
    ];
    for (const r of rows) {
      process.stderr.write(`bench:   ${r.command}: median ${Math.round(median(r.times))} ms\n`);
    }
    return render(rows, options.runs);
  } finally {
    await dev.stop(10_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

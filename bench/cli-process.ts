import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

// One process of the product phase, started the way a user starts it from a shell: the built CLI
// (`node dist/cli/main.js dev > dev.log 2> dev.err`) or a user's own Node script, with stdout and
// stderr redirected to files of the cell's folder (a real file, so pino writes to it as it would
// in production). Readiness is the process's own banner in that file (or an IPC `ready` from a
// script); peak RSS is VmHWM from /proc, read just before the stop; the stop is SIGTERM, as an
// orchestrator sends it, then SIGKILL by pid if the process outlives its bound. Only processes
// started here are ever signalled, and only by their own pid.

export const CLI_MAIN = path.resolve("dist/cli/main.js");

export interface ProcessOptions {
  /** Short name for messages and file names, e.g. "dev", "worker-2". */
  label: string;
  /** Arguments after `node`: the script and its own arguments. */
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** The stdout line that says the process is ready; absent: an IPC `{type: "ready"}`. */
  banner?: RegExp;
  readyTimeoutMs: number;
}

export interface StopReport {
  /** VmHWM of /proc/<pid>/status just before SIGTERM, in bytes (0 when unreadable). */
  peakRssBytes: number;
  exit: string;
  /** Bytes the process wrote to its stdout file (its logs, at their default level). */
  stdoutBytes: number;
  /** The `tracking_writer_stats` line the CLI logs at shutdown, when there is one. */
  trackingStats?: Record<string, unknown>;
}

export interface RunningProcess {
  readonly label: string;
  readonly pid: number;
  /** The banner's match (REST URL…), or an empty array for an IPC-ready script. */
  readonly banner: string[];
  readonly child: ChildProcess;
  readonly stdoutFile: string;
  /** Peak RSS so far (VmHWM), in bytes. */
  peakRssBytes(): number;
  /** User + system CPU time used so far, in ms (from /proc/<pid>/stat; 0 when unreadable). */
  cpuMs(): number;
  /** SIGTERM, wait up to `graceMs` for the exit, then SIGKILL; idempotent. */
  stop(graceMs: number): Promise<StopReport>;
}

export function vmHwmBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
    return kib ? Number(kib) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** utime + stime of /proc/<pid>/stat (fields 14 and 15, after the parenthesised name). */
export function cpuMsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the name start at field 3; clock ticks are 100 per second on Linux.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10 : 0;
  } catch {
    return 0;
  }
}

/** The last `bytes` of a file: the shutdown lines of a log that may hold millions of others. */
function tail(file: string, bytes: number): string {
  let fd: number | undefined;
  try {
    const size = statSync(file).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    fd = openSync(file, "r");
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The fields of the last `tracking_writer_stats` log line in `text`. */
export function trackingStatsOf(text: string): Record<string, unknown> | undefined {
  const lines = text.split("\n").filter((l) => l.includes('"tracking_writer_stats"'));
  const last = lines.at(-1);
  if (!last) return undefined;
  try {
    const parsed: unknown = JSON.parse(last);
    return typeof parsed === "object" && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function exitOf(child: ChildProcess): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve(child.signalCode ?? `code ${child.exitCode}`);
  }
  return new Promise((resolve) =>
    child.once("exit", (code, signal) => resolve(signal ?? `code ${code}`)),
  );
}

async function waitForBanner(
  child: ChildProcess,
  files: { stdout: string; stderr: string },
  options: ProcessOptions,
): Promise<string[]> {
  const deadline = Date.now() + options.readyTimeoutMs;
  const banner = options.banner;
  let ipcReady = false;
  child.on("message", (message: unknown) => {
    if ((message as { type?: unknown } | null)?.type === "ready") ipcReady = true;
  });
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const why = tail(files.stderr, 600).trim() || tail(files.stdout, 600).trim();
      throw new Error(`${options.label} exited before it was ready: ${why.split("\n").at(-1)}`);
    }
    if (banner) {
      // The banner comes right after start-up: the first 64 KiB hold it.
      const match = banner.exec(readHead(files.stdout, 65_536));
      if (match) return [...match];
    } else if (ipcReady) {
      return [];
    }
    await sleep(50);
  }
  throw new Error(`${options.label} was not ready within ${options.readyTimeoutMs} ms`);
}

function readHead(file: string, bytes: number): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buffer = Buffer.alloc(bytes);
    const read = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, read).toString("utf8");
  } catch {
    return "";
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Starts the process and resolves once it is ready; on any failure it is killed first. */
export async function startProcess(options: ProcessOptions): Promise<RunningProcess> {
  const files = {
    stdout: path.join(options.cwd, `${options.label}.log`),
    stderr: path.join(options.cwd, `${options.label}.err`),
  };
  const out = openSync(files.stdout, "w");
  const err = openSync(files.stderr, "w");
  let child: ChildProcess;
  try {
    child = spawn(process.execPath, options.args, {
      cwd: options.cwd,
      env: options.env,
      // A CLI process gets no IPC channel: nothing a user's shell would not give it.
      stdio: options.banner ? ["ignore", out, err] : ["ignore", out, err, "ipc"],
      serialization: "json",
    });
  } finally {
    // The child holds its own copies of the descriptors.
    closeSync(out);
    closeSync(err);
  }
  const pid = child.pid;
  if (pid === undefined) throw new Error(`${options.label} could not be started`);
  child.on("error", () => undefined);
  let stopped: Promise<StopReport> | undefined;
  const handle: RunningProcess = {
    label: options.label,
    pid,
    banner: [],
    child,
    stdoutFile: files.stdout,
    peakRssBytes: () => vmHwmBytes(pid),
    cpuMs: () => cpuMsOf(pid),
    stop(graceMs) {
      stopped ??= (async () => {
        const peakRssBytes = vmHwmBytes(pid);
        const exited = exitOf(child);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        const timer = sleep(graceMs).then(() => undefined);
        let exit = await Promise.race([exited, timer]);
        if (exit === undefined) {
          child.kill("SIGKILL");
          exit = `killed after ${graceMs} ms without exiting (${await exited})`;
        }
        const trackingStats = trackingStatsOf(tail(files.stdout, 65_536));
        return {
          peakRssBytes,
          exit,
          stdoutBytes: sizeOf(files.stdout),
          ...(trackingStats ? { trackingStats } : {}),
        };
      })();
      return stopped;
    },
  };
  try {
    const banner = await waitForBanner(child, files, options);
    return { ...handle, banner };
  } catch (error) {
    await handle.stop(5_000);
    throw error;
  }
}

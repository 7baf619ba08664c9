import { GoTaskQError } from "../core/errors.js";

// CLI output conventions: data on stdout (human text, or JSON with --json), errors as one line on
// stderr with a non-zero exit code, so scripts can rely on both.

export const EXIT_ERROR = 1;
/** `submit --wait` and friends: the task ended, but not in SUCCESS. */
export const EXIT_TASK_NOT_SUCCESSFUL = 3;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = EXIT_ERROR,
  ) {
    super(message);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints aligned columns; long cells are cut so one record stays on one line. */
export function printTable(headers: string[], rows: string[][]): void {
  const cut = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s);
  const all = [headers, ...rows.map((r) => r.map(cut))];
  const widths = headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  for (const row of all) {
    process.stdout.write(
      `${row
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
  }
}

export function printFields(fields: Array<[string, unknown]>): void {
  const width = Math.max(...fields.map(([k]) => k.length));
  for (const [key, value] of fields) {
    if (value === null || value === undefined) continue;
    const text = typeof value === "string" ? value : JSON.stringify(value);
    process.stdout.write(`${key.padEnd(width)}  ${text}\n`);
  }
}

/** The one line an error becomes on stderr. */
export function errorLine(error: unknown): string {
  if (error instanceof CliError || error instanceof GoTaskQError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

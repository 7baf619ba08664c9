import path from "node:path";
import type { Command } from "commander";
import { resolveConfig } from "../../config/config.js";
import { InvalidArgumentError } from "../../core/errors.js";
import { printJson, printTable } from "../output.js";

// `gotaskq operators`: who may log in to the web dashboard. The password is typed at a prompt
// that does not echo (twice, to catch typos) or, for scripts, read from stdin with
// --password-stdin; never from an argument, which would land in shell history and `ps`.
// The operators file (GOTASKQ_OPERATORS_FILE, default .gotaskq/operators.json) keeps its scrypt
// hash only; running servers pick changes up at once. The operators module (scrypt, the file
// format) is imported when an operators command runs, not when the CLI starts.

const operatorsModule = () => import("../../api/operators/operators-file.js");

function operatorsFile(): string {
  return path.resolve(resolveConfig(process.env).operatorsFile);
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is the pipe's (echo, a file), not the password's.
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

/** Reads one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(question);
  return new Promise((resolve, reject) => {
    let value = "";
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding("utf8");
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onData);
      process.stderr.write("\n");
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const char of chunk) {
        if (char === "\r" || char === "\n") return done();
        if (char === "\u0003" || char === "\u0004") {
          return done(new InvalidArgumentError("password entry aborted"));
        }
        if (char === "\u007f" || char === "\b") value = value.slice(0, -1);
        else value += char;
      }
    };
    stdin.on("data", onData);
  });
}

async function passwordOf(opts: { passwordStdin?: boolean }): Promise<string> {
  if (opts.passwordStdin) return readStdin();
  if (!process.stdin.isTTY) {
    throw new InvalidArgumentError(
      "no terminal to prompt for the password: pipe it in with --password-stdin (e.g. printf '%s' \"$PASS\" | gotaskq operators add alice --role viewer --password-stdin)",
    );
  }
  const first = await promptHidden("Password: ");
  const second = await promptHidden("Repeat password: ");
  if (first !== second) throw new InvalidArgumentError("the two passwords differ; try again");
  return first;
}

export function registerOperators(program: Command): void {
  const operators = program
    .command("operators")
    .description(
      "manage dashboard operators (stored with scrypt hashes in GOTASKQ_OPERATORS_FILE)",
    );
  operators
    .command("add")
    .description("add an operator (the password is prompted for, or read with --password-stdin)")
    .argument("<name>", "login name, e.g. alice")
    .requiredOption(
      "--role <role>",
      "viewer (read only) or operator (also submit, cancel, requeue)",
    )
    .option("--password-stdin", "read the password from stdin instead of prompting")
    .option("--replace", "set a new password and role for an existing operator")
    .option("--json", "print JSON")
    .action(
      async (
        name: string,
        opts: { role: string; passwordStdin?: boolean; replace?: boolean; json?: boolean },
      ) => {
        const password = await passwordOf(opts);
        const record = await (await operatorsModule()).addOperator(operatorsFile(), {
          name,
          role: opts.role,
          password,
          ...(opts.replace ? { replace: true } : {}),
        });
        if (opts.json) return printJson(record);
        process.stdout.write(
          `operator "${record.name}" (${record.role}) ${opts.replace ? "updated" : "added"} in ${operatorsFile()}\n`,
        );
      },
    );
  operators
    .command("list")
    .description("list operators (never their hashes)")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const records = await (await operatorsModule()).listOperators(operatorsFile());
      if (opts.json) return printJson(records);
      printTable(
        ["NAME", "ROLE", "CREATED"],
        records.map((r) => [r.name, r.role, r.created_at]),
      );
    });
  operators
    .command("remove")
    .description("remove an operator (their open sessions end at once)")
    .argument("<name>", "the operator's name")
    .action(async (name: string) => {
      await (await operatorsModule()).removeOperator(operatorsFile(), name);
      process.stdout.write(`removed ${name}\n`);
    });
}

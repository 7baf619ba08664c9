import path from "node:path";
import type { Command } from "commander";
import { resolveConfig } from "../../config/config.js";
import { printJson, printTable } from "../output.js";

// `gotaskq keys`: API keys for REST and gRPC. The key is printed once, at creation; the keys file
// (GOTASKQ_API_KEYS_FILE, default .gotaskq/api-keys.json) stores only its digest. The keys
// module is imported when a keys command runs, not when the CLI starts.

const apiKeys = () => import("../../api/auth/api-keys.js");

function keysFile(): string {
  return path.resolve(resolveConfig(process.env).apiKeysFile);
}

export function registerKeys(program: Command): void {
  const keys = program
    .command("keys")
    .description("manage API keys (stored hashed in GOTASKQ_API_KEYS_FILE)");
  keys
    .command("create")
    .description("create a key and print it once")
    .requiredOption("--name <name>", "a unique name, e.g. billing-service")
    .option(
      "--scopes <list>",
      "comma-separated: submit, read, admin (default submit,read)",
      "submit,read",
    )
    .option("--json", "print JSON")
    .action(async (opts: { name: string; scopes: string; json?: boolean }) => {
      const { key, record } = await (await apiKeys()).createApiKey(keysFile(), {
        name: opts.name,
        scopes: opts.scopes,
      });
      if (opts.json) return printJson({ key, ...record });
      process.stdout.write(`${key}\n`);
      process.stderr.write(
        `key "${record.name}" (${record.scopes.join(",")}) stored hashed in ${keysFile()}; this is the only time it is shown\n`,
      );
    });
  keys
    .command("list")
    .description("list keys (never their secrets)")
    .option("--json", "print JSON")
    .action(async (opts: { json?: boolean }) => {
      const records = await (await apiKeys()).listApiKeys(keysFile());
      if (opts.json) return printJson(records);
      printTable(
        ["NAME", "PREFIX", "SCOPES", "CREATED", "REVOKED"],
        records.map((r) => [
          r.name,
          `${r.prefix}…`,
          r.scopes.join(","),
          r.created_at,
          r.revoked_at ?? "",
        ]),
      );
    });
  keys
    .command("revoke")
    .description("revoke a key by name (servers stop accepting it at once)")
    .argument("<name>", "the key's name")
    .action(async (name: string) => {
      await (await apiKeys()).revokeApiKey(keysFile(), name);
      process.stdout.write(`revoked ${name}\n`);
    });
}

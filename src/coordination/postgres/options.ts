import { InvalidArgumentError } from "../../core/errors.js";
import { resolveStoreOptions } from "../arguments.js";

// The PostgreSQL coordination store's settings: one documented type, defaults applied in one
// pure function, and the URL form the CLI passes:
//
//   postgres://user[:password]@host[:port]/db[?prefix=gotaskq][&schema=public]
//   postgresql://…
//
// `prefix` and `schema` are ours and taken out of the URL; every other query parameter goes to
// pg as is (sslmode, application_name, …).

export interface PostgresCoordinationOptions {
  /**
   * The deployment prefix: every row carries it in its `ns` column, so deployments sharing one
   * database never see each other's keys. Letters, digits and `_.:-`, 1–64 chars; default
   * "gotaskq".
   */
  prefix?: string;
  /**
   * The longest any call may take, waiting for a connection included, before it rejects with
   * `unavailable` (ms); 100–600,000, default 5,000.
   */
  operationTimeoutMs?: number;
  /**
   * The schema holding the coordination tables (created when absent); lowercase letters, digits
   * and `_`; default "public".
   */
  schema?: string;
}

export type ResolvedPostgresCoordinationOptions = Required<PostgresCoordinationOptions>;

/** Lowercase only: PostgreSQL folds unquoted names, and search_path is set unquoted. */
const SCHEMA = /^[a-z_][a-z0-9_]{0,62}$/;

export function resolvePostgresCoordinationOptions(
  options: PostgresCoordinationOptions,
): ResolvedPostgresCoordinationOptions {
  const { prefix, operationTimeoutMs } = resolveStoreOptions("PostgreSQL", options);
  const schema = options.schema ?? "public";
  if (!SCHEMA.test(schema)) {
    throw new InvalidArgumentError(
      `PostgreSQL coordination schema must match ${SCHEMA.source} (got ${JSON.stringify(schema)})`,
    );
  }
  return { prefix, operationTimeoutMs, schema };
}

/**
 * Splits a coordination URL into what pg connects to and our options. Options given in code win
 * over the URL's, so a test harness can override the deployment prefix of a configured URL.
 */
export function parsePostgresCoordinationUrl(
  url: string,
  options: PostgresCoordinationOptions = {},
): { connectionString: string; options: ResolvedPostgresCoordinationOptions } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError(
      "GOTASKQ_COORDINATION_URL is not a valid URL; use e.g. postgres://user@127.0.0.1:5432/db?prefix=gotaskq",
    );
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    throw new InvalidArgumentError(
      `a PostgreSQL coordination URL starts with postgres:// or postgresql:// (got ${parsed.protocol}//…)`,
    );
  }
  const fromUrl: PostgresCoordinationOptions = {};
  const prefix = parsed.searchParams.get("prefix");
  const schema = parsed.searchParams.get("schema");
  if (prefix !== null) fromUrl.prefix = prefix;
  if (schema !== null) fromUrl.schema = schema;
  parsed.searchParams.delete("prefix");
  parsed.searchParams.delete("schema");
  return {
    connectionString: parsed.toString(),
    options: resolvePostgresCoordinationOptions({ ...fromUrl, ...definedOnly(options) }),
  };
}

function definedOnly(options: PostgresCoordinationOptions): PostgresCoordinationOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** `postgres://user:secret@host` → `postgres://user:***@host`, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

import { InvalidArgumentError } from "../../core/errors.js";
import { assertJsonDepth, MAX_JSON_DEPTH, parseJsonSafe } from "../../core/json-guard.js";

// Reading proto-loader's loose objects. The loader already enforced the proto's types, but its
// objects are untyped (`any`) and a client may send anything the wire format allows, so every
// request is read through these narrowing helpers at the edge and typed from there on. An
// absent `optional` field is `undefined` here (the loader runs with `defaults: false`).

export type Loose = Readonly<Record<string, unknown>>;

/** Marks a request whose bytes are not a valid protobuf message (see `safeDeserializers`). */
export const MALFORMED = Symbol("malformed request");
export interface MalformedRequest {
  [MALFORMED]: string;
}

export function isMalformed(value: unknown): value is MalformedRequest {
  return typeof value === "object" && value !== null && MALFORMED in value;
}

/** The request as a plain object; refuses a malformed message with INVALID_ARGUMENT. */
export function requestObject(value: unknown, message: string): Loose {
  if (isMalformed(value)) {
    throw new InvalidArgumentError(
      `the request is not a valid ${message} protobuf message (${value[MALFORMED]}); build it from proto/gotaskq/v1/tasks.proto`,
    );
  }
  return asObject(value);
}

export function asObject(value: unknown): Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Loose)
    : {};
}

export function optionalString(o: Loose, key: string): string | undefined {
  const v = o[key];
  return typeof v === "string" ? v : undefined;
}

export function optionalNumber(o: Loose, key: string): number | undefined {
  const v = o[key];
  return typeof v === "number" ? v : undefined;
}

export function stringList(o: Loose, key: string): string[] {
  const v = o[key];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

export function stringMap(o: Loose, key: string): Record<string, string> | undefined {
  const v = o[key];
  if (typeof v !== "object" || v === null) return undefined;
  const entries = Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string");
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** Copies only the keys whose value is defined (the service treats present keys as given). */
export function defined(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) if (value !== undefined) out[key] = value;
  return out;
}

/** Parses a `*_json` field: any JSON value, `__proto__` keys dropped, nesting at most 64. */
export function parseJsonField(text: string, field: string): unknown {
  let value: unknown;
  try {
    value = parseJsonSafe(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidArgumentError(
      `${field} must be JSON text such as {"to":"a@b.c"} or [1,2] (${reason})`,
    );
  }
  assertJsonDepth(value, field, MAX_JSON_DEPTH);
  return value;
}

/** JSON text of a value for a `*_json` field; undefined stays absent. */
export function jsonText(value: unknown): string | undefined {
  return value === undefined ? undefined : JSON.stringify(value);
}

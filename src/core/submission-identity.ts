import { createHash } from "node:crypto";
import { InvalidArgumentError } from "./errors.js";

// What makes two submissions "the same": the fingerprint an idempotency key is bound to, and the
// key a unique task holds while it is queued or running. Both are built from canonical JSON
// (object keys sorted at every level, no whitespace), so `{"a":1,"b":2}` and `{"b":2,"a":1}` are
// one payload whichever client serialised it.

export type UniqueUntil = "started" | "finished";
export const UNIQUE_UNTIL: readonly UniqueUntil[] = ["started", "finished"];

/** A submission's (or a function's) uniqueness, defaults applied. */
export interface UniqueOption {
  /** Template over payload and metadata, e.g. "{{payload.user_id}}"; absent: the whole payload. */
  key?: string;
  until: UniqueUntil;
  /** Upper bound on how long the key is held if no worker releases it. */
  ttl_ms: number;
}

/**
 * JSON with object keys sorted at every depth; `undefined` members dropped as JSON does. Built by
 * concatenation, without intermediate arrays: every keyed submission of a batch pays it.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i > 0 ? "," : "") + canonicalJson(value[i]);
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = "{";
  for (const key of Object.keys(record).sort()) {
    const member = record[key];
    if (member === undefined) continue;
    out += `${out.length > 1 ? "," : ""}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `${out}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** The hash an idempotency key is bound to: the submission without the key's own fields. */
export function submissionFingerprint(parts: {
  function_key: string;
  payload: unknown;
  queue: string;
  priority: number;
  options: Record<string, unknown>;
}): string {
  return sha256Hex(canonicalJson(parts));
}

type Segment = { text: string } | { root: "payload" | "metadata"; path: string[] };

const PLACEHOLDER = /^(payload|metadata)((?:\.[A-Za-z0-9_-]+)*)$/;
const TEMPLATE_EXAMPLE = 'e.g. "{{payload.user_id}}" or "{{metadata.tenant}}:{{payload.report}}"';

/** Splits a key template into text and placeholders; throws naming what to change. */
export function parseUniqueTemplate(template: string, field = "unique.key"): Segment[] {
  const segments: Segment[] = [];
  let rest = template;
  while (rest.length > 0) {
    const open = rest.indexOf("{{");
    const strayClose = rest.indexOf("}}");
    if (strayClose >= 0 && (open < 0 || strayClose < open)) {
      throw new InvalidArgumentError(
        `${field} has "}}" without a matching "{{" (in ${JSON.stringify(template)}); ${TEMPLATE_EXAMPLE}`,
      );
    }
    if (open < 0) {
      segments.push({ text: rest });
      break;
    }
    if (open > 0) segments.push({ text: rest.slice(0, open) });
    const close = rest.indexOf("}}", open + 2);
    if (close < 0) {
      throw new InvalidArgumentError(
        `${field} has an unclosed "{{" (in ${JSON.stringify(template)}); close it with "}}", ${TEMPLATE_EXAMPLE}`,
      );
    }
    const inner = rest.slice(open + 2, close).trim();
    const match = PLACEHOLDER.exec(inner);
    if (!match) {
      throw new InvalidArgumentError(
        `${field} placeholder {{${inner}}} must start with payload or metadata and use dotted names (letters, digits, _ and -), ${TEMPLATE_EXAMPLE}`,
      );
    }
    const path = (match[2] ?? "").split(".").filter(Boolean);
    segments.push({ root: match[1] as "payload" | "metadata", path });
    rest = rest.slice(close + 2);
  }
  return segments;
}

function lookUp(root: unknown, path: string[]): { found: boolean; value?: unknown } {
  let at: unknown = root;
  for (const name of path) {
    if (typeof at !== "object" || at === null || !Object.hasOwn(at, name)) return { found: false };
    at = (at as Record<string, unknown>)[name];
  }
  return { found: at !== undefined, value: at };
}

/**
 * The key a unique task holds: "<function_key>:<rendered template>", or
 * "<function_key>:<sha256 of the canonical payload>" without a template. A placeholder whose
 * path this payload (or metadata) lacks is refused: silently rendering "" would make unrelated
 * tasks duplicates of each other. Long keys are hashed to stay within every store's limits.
 */
export function uniqueKeyOf(
  functionKey: string,
  option: UniqueOption,
  submission: { payload: unknown; metadata: Record<string, string> },
): string {
  if (option.key === undefined)
    return `${functionKey}:${sha256Hex(canonicalJson(submission.payload))}`;
  let rendered = "";
  for (const segment of parseUniqueTemplate(option.key)) {
    if ("text" in segment) {
      rendered += segment.text;
      continue;
    }
    const root = segment.root === "payload" ? submission.payload : submission.metadata;
    const { found, value } = lookUp(root, segment.path);
    const name = [segment.root, ...segment.path].join(".");
    if (!found) {
      throw new InvalidArgumentError(
        `unique.key uses {{${name}}}, which this submission does not have; add ${name} to the ${segment.root}, or change unique.key (${JSON.stringify(option.key)})`,
      );
    }
    rendered += typeof value === "string" ? value : canonicalJson(value);
  }
  const key = `${functionKey}:${rendered}`;
  return key.length > 200 ? `${functionKey}:#${sha256Hex(rendered)}` : key;
}

/** Where a unique task's key lives in the coordination store. */
export function uniqueStoreKey(uniqueKey: string): string {
  return `unique:${uniqueKey}`;
}

/**
 * The value a unique key holds: which task holds it, and whether its publish is confirmed.
 * Derived from the envelope's id and created_at alone, so a worker can release exactly its own
 * claim in either state (never a successor's).
 */
export function uniqueClaimValue(
  state: "pending" | "done",
  taskId: string,
  createdAt: string,
): string {
  return JSON.stringify({ state, id: taskId, created_at: createdAt });
}

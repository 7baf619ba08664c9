import { InvalidArgumentError } from "../../core/errors.js";
import { dbText, rowToRecord } from "../records/rows.js";
import { listLimit, metadataNeedle, timeBound } from "../task-query.js";
import type { TaskPage, TaskQuery, TaskRecord } from "../tracking-store.js";
import type { ScriptArg } from "./lua-script.js";
import { hashToValues, NULL_ARG, paddedSortAt, pairsToHash, SORT_DIGITS } from "./task-hash.js";

// A TaskQuery as the list script's arguments (scripts/list-script.ts), and its reply as a page.
// The cursor is the last index position the script returned or examined ("<sort_at>:<id>"),
// wrapped so that a cursor of another store (or a typo) is refused instead of misread.

const CURSOR_TAG = "r1";
const MEMBER = new RegExp(`^\\d{${SORT_DIGITS}}:`);

function encodeCursor(member: string): string {
  return Buffer.from(JSON.stringify([CURSOR_TAG, member])).toString("base64url");
}

function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      value[0] === CURSOR_TAG &&
      typeof value[1] === "string" &&
      MEMBER.test(value[1])
    ) {
      return value[1];
    }
  } catch {
    // falls through to the error below
  }
  throw new InvalidArgumentError(
    "cursor is not one this server returned; start again without a cursor to read the first page",
  );
}

/** ARGV[2…] of the list script (ARGV[1], the key base, is added by the store). */
export function listArgs(
  query: TaskQuery,
  options: { cutoff: number; scanBudget: number },
): ScriptArg[] {
  const limit = listLimit(query.limit);
  // Upper bound, exclusive: the cursor position (sort_at, id) or `until` (below that sort_at),
  // whichever is lower.
  let upper = "";
  let upperId = "";
  if (query.until !== undefined) upper = paddedSortAt(timeBound("until", query.until));
  if (query.cursor !== undefined) {
    const position = decodeCursor(query.cursor);
    const at = position.slice(0, SORT_DIGITS);
    if (upper === "" || at < upper) {
      upper = at;
      upperId = position.slice(SORT_DIGITS + 1);
    }
  }
  const lower = query.since !== undefined ? String(timeBound("since", query.since)) : "-inf";
  return [
    options.cutoff,
    limit,
    options.scanBudget,
    upper,
    upperId,
    lower,
    query.functionKey !== undefined ? dbText(query.functionKey) : NULL_ARG,
    query.queue !== undefined ? dbText(query.queue) : NULL_ARG,
    query.text ? dbText(query.text).toLowerCase() : NULL_ARG,
    query.metadata ? dbText(metadataNeedle(query.metadata)) : NULL_ARG,
    ...new Set(query.status ?? []),
  ];
}

/** The script's reply { cursor or "", id, HGETALL, id, HGETALL, … } as a page. */
export function listPage(reply: unknown): TaskPage {
  const items = reply as [string, ...(string | string[])[]];
  const tasks: TaskRecord[] = [];
  for (let i = 1; i + 1 < items.length; i += 2) {
    const id = items[i] as string;
    tasks.push(rowToRecord(hashToValues(id, pairsToHash(items[i + 1] as string[]))));
  }
  const cursor = items[0];
  return { tasks, ...(cursor ? { nextCursor: encodeCursor(cursor) } : {}) };
}

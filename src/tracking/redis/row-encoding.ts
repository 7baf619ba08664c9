import { supersedes, type TaskStatus } from "../../core/status.js";
import { dbText, jsonText, metadataText, optInt, optText, time } from "../records/rows.js";
import type { TaskErrorInfo, TaskEvent } from "../tracking-store.js";
import { FIELD_CODE_BASE, FIELDS, LOWER_KEY_FIELD, VALUE_SEPARATOR } from "./task-hash.js";
import { sortAtText, timeText } from "./time-text.js";

// The rows arguments of the record script (scripts/record-script.ts), built straight from a write
// batch's events. The result is byte for byte what the general path gives (each task's events
// collapsed into one TaskValues with records/rows.ts's eventToValues and sql/merge.ts's
// mergeTaskValues, then each row's values listed, test/support/redis-rows-reference.ts), for about half
// its CPU (bench/redis-row-encoding.ts): this runs in every producer and worker that tracks on
// Redis, and the general path spent its time building and copying 27-field objects, encoding
// values the merge then dropped, looking fields up by column name and turning times into text.
//
// Here a task's row is one small builder holding its values already as the strings sent, by
// position in FIELDS (so a value's code letter is its index), and a task seen once in the batch
// (all of a producer's) shares one builder with the others. An event's value is converted only
// where the merge takes it. The merge rules are mergeTaskValues's, applied value by value; the
// defensive conversions are rows.ts's own functions. row-encoding.test.ts holds both paths to
// the same bytes on generated batches: change a rule in sql/ and that test says what to change
// here.

/** How many rows, and how many characters of rows, one rows argument holds at most. */
export interface RowLimits {
  /** Rows per argument; a task's row is never split. */
  rowsPerCall: number;
  /**
   * Characters (UTF-16 units) per argument, separators included: the argument closes after the
   * row that reaches it.
   */
  charsPerCall: number;
}

type Field = (typeof FIELDS)[number];
const slot = (field: Field): number => FIELDS.indexOf(field);

// Positions in FIELDS, by merge group (sql/merge.ts).
const FK = slot("fk");
const Q = slot("q");
const PR = slot("pr");
const P = slot("p");
const MR = slot("mr");
const TO = slot("to");
const MD = slot("md");
const IK = slot("ik");
const CA = slot("ca");
const ST = slot("st");
const R = slot("r");
const A = slot("a");
const SD = slot("sd");
const CD = slot("cd");
const DU = slot("du");
const RA = slot("ra");
const RE = slot("re");
const W = slot("w");
const DC = slot("dc");
const DL = slot("dl");
const E = slot("e");
const ES = slot("es");
const FL = slot(LOWER_KEY_FIELD);
const SA = slot("sa");
const UA = slot("ua");

// A row's fields are a bit mask of their positions (codesOf).
if (FIELDS.length > 31) {
  throw new Error(
    `row-encoding.ts keeps a row's fields in 31 bits, and FIELDS has ${FIELDS.length}`,
  );
}

/** The code letter of each position: FIELD_CODE_BASE + position + 1 (record-script.ts reads it back). */
const CODES = FIELDS.map((_, i) => String.fromCharCode(FIELD_CODE_BASE + i + 1));
/** Copied for every new row: a literal-built array stays packed, which `new Array(n)` does not. */
const NO_VALUES: (string | null)[] = FIELDS.map(() => null);

/** One task's row while the batch is read: what mergeTaskValues would hold so far. */
class RowBuilder {
  /**
   * By position in FIELDS, as sent; null = not sent. The version fields, fl, sa and ua are
   * written at the end (pushRow) from the properties below, which the merge compares as numbers.
   */
  readonly values: (string | null)[] = NO_VALUES.slice();
  id = "";
  status: TaskStatus = "PENDING";
  run = 0;
  attempt = 0;
  sortAt = 0;
  updatedAt = 0;
}

function intText(value: number | undefined): string | null {
  const n = optInt(value);
  return n === null ? null : String(n);
}

function optTimeText(value: number | undefined): string | null {
  const ms = optInt(value);
  return ms === null ? null : timeText(ms);
}

/** The descriptive group: the first non-null value wins, so an event only fills gaps. */
function fillDescriptive(values: (string | null)[], event: TaskEvent, createdAt: number | null) {
  if (values[FK] === null) values[FK] = optText(event.functionKey);
  if (values[Q] === null) values[Q] = optText(event.queue);
  if (values[PR] === null) values[PR] = intText(event.priority);
  // Checked before encoding (rows.ts's `known`): a worker's events all carry the payload, and
  // only the first one's encoding is kept.
  if (values[P] === null) values[P] = jsonText(event.payload);
  if (values[MR] === null) values[MR] = intText(event.maxRetries);
  if (values[TO] === null) values[TO] = intText(event.timeoutMs);
  if (values[MD] === null) values[MD] = metadataText(event.metadata);
  if (values[IK] === null) values[IK] = optText(event.idempotencyKey);
  if (values[CA] === null && createdAt !== null) values[CA] = timeText(createdAt);
}

// How an event's attempt facts meet the row's (mergeTaskValues, ATTEMPT); an older attempt's
// facts are not read at all.
/** A newer attempt: its facts, the ones it lacks cleared. */
const REPLACE = 0;
/** The same attempt, the event wins: its facts first, the row's fill its gaps. */
const OVER = 1;
/** The same attempt, the row wins: the row's facts first, the event's fill its gaps. */
const UNDER = 2;
type Take = typeof REPLACE | typeof OVER | typeof UNDER;

function put(values: (string | null)[], i: number, value: string | null, take: Take): void {
  if (take === REPLACE || (take === OVER ? value !== null : values[i] === null)) values[i] = value;
}

function takeAttemptFacts(values: (string | null)[], event: TaskEvent, take: Take): void {
  put(values, SD, optTimeText(event.startedAt), take);
  put(values, CD, optTimeText(event.completedAt), take);
  put(values, DU, intText(event.durationMs), take);
  put(values, RA, optTimeText(event.runAt), take);
  put(values, RE, jsonText(event.result), take);
  put(values, W, optText(event.workerId), take);
  put(values, DC, intText(event.deliveryCount), take);
  put(values, DL, optText(event.deadLetterReason), take);
}

/**
 * The carried group (the last failure): the winner's error when it has one; a losing event's
 * only when the row has none. error and error_search always move together.
 */
function takeError(values: (string | null)[], error: TaskErrorInfo | undefined, wins: boolean) {
  if (wins) {
    if (!error) return;
    const text = jsonText(error);
    if (text === null) return;
    values[E] = text;
    values[ES] = dbText(String(error.message).toLowerCase());
  } else if (values[E] === null) {
    values[E] = error ? jsonText(error) : null;
    values[ES] = error ? dbText(String(error.message).toLowerCase()) : null;
  }
}

/** Fills `row` from a task's first event (what eventToValues gives); returns it. */
function startRow(row: RowBuilder, id: string, event: TaskEvent): RowBuilder {
  const values = row.values;
  for (let i = 0; i < values.length; i += 1) values[i] = null;
  const at = time(event.at);
  const createdAt = optInt(event.createdAt);
  row.id = id;
  row.status = event.status;
  row.run = optInt(event.run) ?? 0;
  row.attempt = optInt(event.attempt) ?? 0;
  row.sortAt = createdAt ?? at;
  row.updatedAt = at;
  fillDescriptive(values, event, createdAt);
  takeAttemptFacts(values, event, REPLACE);
  takeError(values, event.error, false);
  return row;
}

/** -1, 0 or 1: how an event's (run, attempt) compares with the row's. */
function compareAttempt(run: number, attempt: number, row: RowBuilder): number {
  if (run !== row.run) return run > row.run ? 1 : -1;
  if (attempt !== row.attempt) return attempt > row.attempt ? 1 : -1;
  return 0;
}

function mergeEvent(row: RowBuilder, event: TaskEvent): void {
  const values = row.values;
  const at = time(event.at);
  const createdAt = optInt(event.createdAt);
  const run = optInt(event.run) ?? 0;
  const attempt = optInt(event.attempt) ?? 0;
  const wins = supersedes({ run, attempt, status: event.status }, row);
  const order = compareAttempt(run, attempt, row);
  // sort_at: created_at once known, else the earliest event time. Read before fillDescriptive
  // sets created_at: the rule looks at the row as it was before this event.
  if (values[CA] === null) row.sortAt = createdAt ?? Math.min(row.sortAt, at);
  row.updatedAt = Math.max(row.updatedAt, at);
  fillDescriptive(values, event, createdAt);
  if (wins) {
    row.status = event.status;
    row.run = run;
    row.attempt = attempt;
  }
  if (order >= 0) takeAttemptFacts(values, event, order > 0 ? REPLACE : wins ? OVER : UNDER);
  takeError(values, event.error, wins);
}

/** The code letters of each set of fields sent, by bit mask of their positions. */
const codesByMask = new Map<number, string>();
/** Plenty for the few shapes of rows a process sends; bounds the cache whatever the events. */
const MAX_CACHED_CODES = 4_096;

function codesOf(mask: number): string {
  let codes = codesByMask.get(mask);
  if (codes === undefined) {
    codes = "";
    for (let i = 0; i < CODES.length; i += 1) if (mask & (1 << i)) codes += CODES[i];
    if (codesByMask.size < MAX_CACHED_CODES) codesByMask.set(mask, codes);
  }
  return codes;
}

/**
 * Appends the row's values to `out` (the id, the codes of the fields present, then their values:
 * absent = NULL, bar `r`/`a` = 0 and `fl` = same as `fk`), as pieces to
 * join later (encodeRows): building one string per row would allocate a piece per value twice
 * over. Returns the characters the row adds to its call, separators included.
 */
function pushRow(row: RowBuilder, out: Run): number {
  const values = row.values;
  const key = values[FK] as string | null;
  if (key !== null) {
    // Sent only when it differs (a key already lowercase is searched as is).
    const lower = key.toLowerCase();
    values[FL] = lower === key ? null : lower;
  }
  values[ST] = row.status;
  values[R] = row.run === 0 ? null : String(row.run);
  values[A] = row.attempt === 0 ? null : String(row.attempt);
  values[UA] = timeText(row.updatedAt);
  values[SA] = sortAtText(row.sortAt);
  // The codes come before the values they describe: a slot now, filled once the values are known.
  let n = out.count;
  const pieces = out.pieces;
  pieces[n] = row.id;
  const codesAt = n + 1;
  n += 2;
  let chars = row.id.length + 1;
  let mask = 0;
  for (let i = 0; i < values.length; i += 1) {
    const value = values[i] as string | null;
    if (value === null) continue;
    mask |= 1 << i;
    pieces[n] = value;
    n += 1;
    chars += value.length + 1;
  }
  out.count = n;
  const codes = codesOf(mask);
  pieces[codesAt] = codes;
  return chars + codes.length + 1;
}

/**
 * Each task's first event, or its row once a second event came, in the order of first events.
 * Most tasks of a producer's batch have one event: they need no builder of their own.
 */
function collapse(events: readonly TaskEvent[]): (TaskEvent | RowBuilder)[] {
  const tasks: (TaskEvent | RowBuilder)[] = [];
  /** Task id → its index in `tasks` (a second event replaces the entry there, not in the map). */
  const indexOf = new Map<string, number>();
  for (const event of events) {
    const id = dbText(event.taskId);
    const index = indexOf.get(id);
    if (index === undefined) {
      indexOf.set(id, tasks.length);
      tasks.push(event);
      continue;
    }
    const seen = tasks[index] as TaskEvent | RowBuilder;
    if (seen instanceof RowBuilder) {
      mergeEvent(seen, event);
    } else {
      const row = startRow(new RowBuilder(), id, seen);
      mergeEvent(row, event);
      tasks[index] = row;
    }
  }
  return tasks;
}

/**
 * Pieces joined at a time. Joining a whole call's pieces at once (a 1,000-row call has 20,000)
 * grows their array past V8's large-object threshold, where every growth costs fresh pages: a
 * few hundred ns per row. Runs of rows are joined first, then the runs.
 */
const PIECES_PER_RUN = 2_048;
/** The most pieces one row has: its id, its codes and every field. */
const ROW_PIECES = FIELDS.length + 2;
/** A run's capacity: the row that reaches PIECES_PER_RUN may pass it by one row. */
const RUN_CAPACITY = PIECES_PER_RUN + ROW_PIECES;

/**
 * One run's pieces, in an array allocated once at its full size and filled by index. Grown by
 * push from empty, it was reallocated a dozen times on its way to 2,048 pieces, about four times
 * the memory it ends with, garbage a busy worker's scavenges pay for
 * (bench/results/micro-measurements.md).
 */
interface Run {
  pieces: string[];
  count: number;
}

/** A run for at most `rows` more rows (a small batch gets a small array). */
function newRun(rows: number): Run {
  return { pieces: new Array<string>(Math.min(RUN_CAPACITY, rows * ROW_PIECES)), count: 0 };
}

/** The run's text; shortening the array first trims it in place, so join sees no holes. */
function joinRun(run: Run): string {
  run.pieces.length = run.count;
  return run.pieces.join(VALUE_SEPARATOR);
}

/**
 * The record script's rows arguments for a batch, one per script call: values separated by
 * VALUE_SEPARATOR, rows too. An argument closes after the row that reaches either limit.
 */
export function encodeRows(events: readonly TaskEvent[], limits: RowLimits): string[] {
  const calls: string[] = [];
  let runs: string[] = [];
  let run = newRun(events.length);
  let rows = 0;
  let chars = 0;
  // The row of each task seen once: filled, sent and forgotten before the next one.
  const single = new RowBuilder();
  for (const entry of collapse(events)) {
    const row = entry instanceof RowBuilder ? entry : startRow(single, dbText(entry.taskId), entry);
    chars += pushRow(row, run);
    rows += 1;
    const full = rows >= limits.rowsPerCall || chars >= limits.charsPerCall;
    if (full || run.count >= PIECES_PER_RUN) {
      runs.push(joinRun(run));
      run = newRun(events.length);
    }
    if (full) {
      calls.push(runs.join(VALUE_SEPARATOR));
      runs = [];
      rows = 0;
      chars = 0;
    }
  }
  if (rows > 0) {
    if (run.count > 0) runs.push(joinRun(run));
    calls.push(runs.join(VALUE_SEPARATOR));
  }
  return calls;
}

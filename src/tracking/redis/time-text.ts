import { paddedSortAt, SORT_DIGITS } from "./task-hash.js";

// Times as the text the record script receives (row-encoding.ts): exactly String()'s and
// paddedSortAt()'s text, for less CPU. V8 turns a number beyond 31 bits into text by its general
// double-to-text path, slow enough to show in a worker's profile, and a worker's row holds three
// distinct times (created, started, completed); bench/results/micro-measurements.md. row-encoding.test.ts covers the edges: below 1,000, unsafe integers,
// beyond sort_at's 13 digits.

/** "000" to "999": the milliseconds of a time's text. */
const MILLIS_TEXT = Array.from({ length: 1_000 }, (_, ms) => String(ms).padStart(3, "0"));
/** The last time converted, and its text; its second, and that second's text. */
let lastTime = Number.NaN;
let lastTimeText = "";
let lastSecond = Number.NaN;
let lastSecondText = "";

/**
 * String(ms) for an integer `ms`. A row's times often repeat (sort_at is created_at, updated_at a
 * SUCCESS's completedAt), and the times of one batch mostly fall in the same second: that
 * second's text is kept, and only the milliseconds are looked up.
 */
export function timeText(ms: number): string {
  if (ms === lastTime) return lastTimeText;
  // Below 1,000 the second would print without the zeros the milliseconds need.
  if (!Number.isSafeInteger(ms) || ms < 1_000) return String(ms);
  const second = Math.floor(ms / 1_000);
  if (second !== lastSecond) {
    lastSecond = second;
    lastSecondText = String(second);
  }
  lastTime = ms;
  lastTimeText = lastSecondText + MILLIS_TEXT[ms - second * 1_000];
  return lastTimeText;
}

const SORT_MIN_FULL = 10 ** (SORT_DIGITS - 1);
const SORT_MAX = 10 ** SORT_DIGITS - 1;

/** paddedSortAt(ms) for an integer `ms`: a time with all its digits needs neither padding nor clamping. */
export function sortAtText(ms: number): string {
  return ms >= SORT_MIN_FULL && ms <= SORT_MAX ? timeText(ms) : paddedSortAt(ms);
}

import { openSqliteCoordinationStore } from "./sqlite-coordination-store.js";

// A racing process for the multi-process test of sqlite-coordination-store.test.ts (run with
// `node --import tsx`): it opens the file, prints `ready`, waits for a `go` line on stdin (sent
// once every racer is ready, so they hit the same keys together), claims race:0 … race:<rounds-1> and takes the slot of a one-holder
// semaphore per round, then prints one JSON line — the rounds it won of each — and exits 0.
//
// argv: <file> <name> <rounds>

const [file, name, rounds] = process.argv.slice(2);
if (!file || !name || !rounds) {
  process.stderr.write("usage: racer-process.fixture.ts <file> <name> <rounds>\n");
  process.exit(2);
}

const store = openSqliteCoordinationStore({ path: file, prefix: "race" });
const go = new Promise((resolve) => process.stdin.once("data", resolve));
process.stdout.write("ready\n");
await go;
process.stdin.destroy();
const claims: number[] = [];
const slots: number[] = [];
for (let round = 0; round < Number(rounds); round++) {
  if ((await store.claim(`race:${round}`, name, 60_000)).claimed) claims.push(round);
  if ((await store.acquireSlot(`slot:${round}`, 1, name, 60_000)).acquired) slots.push(round);
}
await store.close();
process.stdout.write(`${JSON.stringify({ name, claims, slots })}\n`);

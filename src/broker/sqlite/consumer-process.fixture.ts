import { openSqliteBroker } from "./sqlite-broker.js";

// A consumer process for the multi-process tests of sqlite-broker.test.ts (run with
// `node --import tsx`). It prints one line per event on stdout — `ready`, `acked <id> <count>`,
// `holding <id> <count>` — and closes the broker and exits 0 on SIGTERM.
//
// argv: <file> <queue> <mode> <prefetch> <leaseMs>
// mode "ack" acks everything; "hold-odd" acks ids ending in an even number and holds the others
// forever, like a handler stuck mid-task, so a SIGKILL leaves them leased.

const [file, queue, mode, prefetch, leaseMs] = process.argv.slice(2);
if (!file || !queue || (mode !== "ack" && mode !== "hold-odd")) {
  process.stderr.write(
    "usage: consumer-process.fixture.ts <file> <queue> ack|hold-odd <prefetch> <leaseMs>\n",
  );
  process.exit(2);
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const broker = openSqliteBroker({ path: file, pollIntervalMs: 20 });
await broker.consume(
  [queue],
  { prefetch: Number(prefetch), leaseMs: Number(leaseMs) },
  (delivery) => {
    const holds = mode === "hold-odd" && Number(delivery.id.replace(/\D+/g, "")) % 2 === 1;
    if (holds) {
      say(`holding ${delivery.id} ${delivery.deliveryCount}`);
      return;
    }
    delivery.ack().then(
      () => say(`acked ${delivery.id} ${delivery.deliveryCount}`),
      (error: unknown) => say(`ack-failed ${delivery.id} ${String(error)}`),
    );
  },
);
say("ready");

process.once("SIGTERM", () => {
  void broker.close().then(() => process.exit(0));
});

import { expect } from "vitest";
import type {
  ControlCommand,
  DeadLetterEntry,
  DeadLetterQueue,
  DeadLetterReason,
  Delivery,
  OutgoingMessage,
} from "../broker.js";
import type { BrokerCase, BrokerCaseName } from "./case-list.case.js";
import { expectStats } from "./delivery.case.js";
import { Inbox, message, pollUntil, read, text } from "./inbox.case.js";

// Conformance cases for what operators and the API see and do: the dead-letter queue, the control
// channel, queue statistics, and a clean close.

async function listAll(
  dlq: DeadLetterQueue,
  options: { limit: number; reason?: DeadLetterReason },
): Promise<DeadLetterEntry[]> {
  const all: DeadLetterEntry[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const result = await dlq.list({ ...options, ...(cursor ? { cursor } : {}) });
    expect(result.entries.length).toBeLessThanOrEqual(options.limit);
    all.push(...result.entries);
    if (!result.nextCursor) return all;
    cursor = result.nextCursor;
  }
  throw new Error("dead-letter listing did not end after 100 pages");
}

const rewrite = (entry: DeadLetterEntry): OutgoingMessage => ({
  id: entry.id,
  body: text(`requeued ${read(entry.body)}`),
  priority: 5,
  delayMs: 0,
});

function revoked(commands: readonly ControlCommand[]): string[] {
  return commands.flatMap((c) => (c.type === "revoke" ? [c.taskId] : []));
}

/** Counts of each resource type Node keeps the process alive for (timers, sockets, …). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo())
    counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

export const MANAGEMENT_CASES = {
  "dead-letter-queue": async (context) => {
    const broker = await context.open();
    const inbox = new Inbox();
    await broker.consume(
      [context.queue],
      { prefetch: 5, leaseMs: context.leaseMs * 10 },
      inbox.push,
    );
    const reasons: DeadLetterReason[] = [
      "permanent_error",
      "decode_error",
      "permanent_error",
      "decode_error",
      "poison",
    ];
    await broker.publish(
      context.queue,
      reasons.map((_, i) => message(`dl${i}`, { body: `body ${i}` })),
    );
    for (let i = 0; i < reasons.length; i++) {
      const delivery = await inbox.next(5_000);
      const index = Number(delivery.id.slice(2));
      await delivery.deadLetter(reasons[index] ?? "poison", `detail ${index}`);
    }
    await expectStats(broker, context.queue, {
      ready: 0,
      inFlight: 0,
      delayed: 0,
      deadLettered: 5,
    });

    const dlq = broker.deadLetters(context.queue);
    const listed = await listAll(dlq, { limit: 2 });
    expect(listed.map((e) => e.id).sort()).toEqual(["dl0", "dl1", "dl2", "dl3", "dl4"]);
    for (const entry of listed) {
      const index = Number(entry.id.slice(2));
      expect(entry).toMatchObject({
        queue: context.queue,
        reason: reasons[index],
        detail: `detail ${index}`,
      });
      expect(read(entry.body)).toBe(`body ${index}`);
      expect(entry.deadLetteredAt).toBeGreaterThan(Date.now() - 60_000);
    }
    const decodeErrors = await listAll(dlq, { limit: 1, reason: "decode_error" });
    expect(decodeErrors.map((e) => e.id).sort()).toEqual(["dl1", "dl3"]);

    const expectRedelivered = async (ids: string[]): Promise<void> => {
      const got: Delivery[] = [];
      for (const _ of ids) got.push(await inbox.next(5_000, "a requeued message"));
      expect(got.map((d) => d.id).sort()).toEqual([...ids].sort());
      for (const d of got) expect(read(d.body)).toBe(`requeued body ${d.id.slice(2)}`);
      await Promise.all(got.map((d) => d.ack()));
    };

    const byId = await dlq.requeue({ ids: ["dl0"] }, rewrite);
    expect(byId.map((e) => e.id)).toEqual(["dl0"]);
    await expectRedelivered(["dl0"]);
    expect((await listAll(dlq, { limit: 10 })).map((e) => e.id).sort()).toEqual([
      "dl1",
      "dl2",
      "dl3",
      "dl4",
    ]);

    const byReason = await dlq.requeue({ reason: "decode_error" }, rewrite);
    expect(byReason.map((e) => e.id).sort()).toEqual(["dl1", "dl3"]);
    await expectRedelivered(["dl1", "dl3"]);

    const rest = await dlq.requeue({ all: true }, rewrite);
    expect(rest.map((e) => e.id).sort()).toEqual(["dl2", "dl4"]);
    await expectRedelivered(["dl2", "dl4"]);
    expect(await dlq.list({ limit: 10 })).toEqual({ entries: [] });
    await expectStats(broker, context.queue, {
      ready: 0,
      inFlight: 0,
      delayed: 0,
      deadLettered: 0,
    });
  },

  revocation: async (context) => {
    const running = await context.open();
    const api = await context.open();
    const seenByRunning: ControlCommand[] = [];
    await running.control.subscribe((command) => seenByRunning.push(command));
    const at = Date.now();
    await api.control.broadcast({ type: "revoke", taskId: "task-1", at });
    await pollUntil(() => revoked(seenByRunning).includes("task-1"), {
      timeoutMs: 5_000,
      what: "the revocation at the running subscriber",
    });
    expect(seenByRunning.find((c) => c.type === "revoke" && c.taskId === "task-1")).toEqual({
      type: "revoke",
      taskId: "task-1",
      at,
    });

    const late = await context.open();
    const seenByLate: ControlCommand[] = [];
    await late.control.subscribe((command) => seenByLate.push(command));
    await pollUntil(() => revoked(seenByLate).includes("task-1"), {
      timeoutMs: 5_000,
      what: "the replayed revocation at the later subscriber",
    });

    await api.control.broadcast({ type: "revoke", taskId: "task-2", at: Date.now() });
    await pollUntil(
      () => revoked(seenByRunning).includes("task-2") && revoked(seenByLate).includes("task-2"),
      { timeoutMs: 5_000, what: "the second revocation at both subscribers" },
    );
  },

  presence: async (context) => {
    const running = await context.open();
    const worker = await context.open();
    const seenByRunning: ControlCommand[] = [];
    await running.control.subscribe((command) => seenByRunning.push(command));
    const beat = (n: number): ControlCommand => ({
      type: "presence",
      workerId: "worker-a",
      queues: [context.queue],
      functions: ["email.send", `beat.${n}`],
      ttlMs: 3_000,
      at: Date.now(),
    });
    const first = beat(1);
    await worker.control.broadcast(first);
    await pollUntil(() => seenByRunning.some((c) => c.type === "presence"), {
      timeoutMs: 5_000,
      what: "the presence beat at the running subscriber",
    });
    expect(seenByRunning.filter((c) => c.type === "presence")).toEqual([first]);

    // A later subscriber hears the next beat, never an earlier one replayed.
    const late = await context.open();
    const seenByLate: ControlCommand[] = [];
    await late.control.subscribe((command) => seenByLate.push(command));
    await worker.control.broadcast({ type: "revoke", taskId: "after-beat", at: Date.now() });
    await worker.control.broadcast(beat(2));
    await pollUntil(
      () =>
        seenByLate.some((c) => c.type === "presence") && revoked(seenByLate).includes("after-beat"),
      { timeoutMs: 5_000, what: "the second beat and a revocation at the later subscriber" },
    );
    const beats = seenByLate.filter((c) => c.type === "presence");
    expect(beats.map((c) => c.functions[1])).toEqual(["beat.2"]);
    await pollUntil(() => seenByRunning.filter((c) => c.type === "presence").length === 2, {
      timeoutMs: 5_000,
      what: "the second beat at the first subscriber",
    });
  },

  stats: async (context) => {
    const broker = await context.open();
    await broker.publish(context.queue, [
      ...Array.from({ length: 6 }, (_, i) => message(`s${i}`)),
      message("later-1", { delayMs: 60_000 }),
      message("later-2", { delayMs: 60_000 }),
    ]);
    const inbox = new Inbox();
    await broker.consume(
      [context.queue],
      { prefetch: 3, leaseMs: context.leaseMs * 20 },
      inbox.push,
    );
    const held = [await inbox.next(5_000), await inbox.next(5_000), await inbox.next(5_000)];
    await held[0]?.deadLetter("permanent_error", "for the stats case");
    held[0] = await inbox.next(5_000, "the delivery after a dead-letter freed a slot");
    await expectStats(broker, context.queue, {
      ready: 2,
      inFlight: 3,
      delayed: 2,
      deadLettered: 1,
    });
    await Promise.all(held.map((d) => d?.ack()));
    await expectStats(broker, context.queue, {
      ready: 0,
      inFlight: 2,
      delayed: 2,
      deadLettered: 1,
    });
    expect(await broker.queues()).toContain(context.queue);
  },

  close: async (context) => {
    const before = activeResources();
    const client = await context.open();
    const inbox = new Inbox();
    const subscription = await client.consume(
      [context.queue],
      { prefetch: 5, leaseMs: context.leaseMs },
      inbox.push,
    );
    await client.publish(context.queue, [message("c1")]);
    const held = await inbox.next(5_000);
    await subscription.close();
    await client.publish(context.queue, [message("c2")]);
    expect(await inbox.nothingWithin(300)).toBeUndefined();

    await client.close();
    await client.close(); // idempotent
    await expect(held.ack()).rejects.toMatchObject({ code: "unavailable" });
    await expect(client.publish(context.queue, [message("c3")])).rejects.toMatchObject({
      code: "unavailable",
    });
    await expect(
      client.consume([context.queue], { prefetch: 1, leaseMs: 1_000 }, () => {}),
    ).rejects.toMatchObject({
      code: "unavailable",
    });
    await expect(client.ping()).rejects.toMatchObject({ code: "unavailable" });

    // Nothing was lost by closing: c2 waits, c1 comes back once its lease expires.
    const next = await context.open();
    const nextInbox = new Inbox();
    await next.consume([context.queue], { prefetch: 5, leaseMs: context.leaseMs }, nextInbox.push);
    const got = [await nextInbox.next(5_000), await nextInbox.next(context.leaseMs * 5 + 3_000)];
    expect(got.map((d) => d.id).sort()).toEqual(["c1", "c2"]);
    await Promise.all(got.map((d) => d.ack()));
    await next.close();

    await pollUntil(
      () => {
        const after = activeResources();
        return [...after].every(([type, n]) => n <= (before.get(type) ?? 0));
      },
      { timeoutMs: 3_000, what: `no resources left open (before: ${JSON.stringify([...before])})` },
    );
  },
} satisfies Partial<Record<BrokerCaseName, BrokerCase>>;

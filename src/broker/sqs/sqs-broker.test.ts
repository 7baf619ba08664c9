import { randomBytes } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { SkipList } from "../../../test/support/conformance-suite.js";
import { type Fauxqs, startFauxqs } from "../../../test/support/fauxqs.js";
import type { Broker } from "../broker.js";
import { describeBrokerConformance } from "../conformance/broker.case.js";
import { BROKER_CASES, type BrokerCaseName } from "../conformance/case-list.case.js";
import { Inbox, message, pollUntil, read } from "../conformance/inbox.case.js";
import { ABANDONED_BACKLOG } from "./control-channel.js";
import { QueueNames } from "./names.js";
import type { SqsBrokerOptions } from "./options.js";
import { openSqsBroker, parseSqsUrl } from "./sqs-broker.js";

// The SQS broker on the shared conformance suite, against the fauxqs emulator in a process of
// its own (test/support/fauxqs.ts), each harness on a fresh queue-name prefix: once with the
// default 3 lanes, the ordering cases again with 10 lanes (exact priority on the emulator; on AWS
// a standard queue's order is best-effort), and the cases FIFO lanes can honour with fifo=true.
// Then what only SQS has to prove: names, body encoding, delays beyond 15 minutes, the 12-hour
// lease cap, the redrive backstop, fast failure.

let emulator: Fauxqs;
beforeAll(async () => {
  emulator = await startFauxqs();
});
afterAll(async () => {
  await emulator?.stop();
});

const credentials = { accessKeyId: "test", secretAccessKey: "test" };

async function deleteQueues(prefix: string): Promise<void> {
  const client = new SQSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials });
  const out = await client.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
  await Promise.all(
    (out.QueueUrls ?? []).map((url) => client.send(new DeleteQueueCommand({ QueueUrl: url }))),
  );
  client.destroy();
}

/** A harness on a fresh queue-name prefix; `tag` marks the variant in the emulator's queue names. */
function harness(tag: string, options: Partial<SqsBrokerOptions> = {}) {
  return async () => {
    const prefix = `${tag}${randomBytes(4).toString("hex")}-`;
    return {
      open: async () =>
        openSqsBroker({
          endpoint: emulator.endpoint,
          region: "us-east-1",
          prefix,
          credentials,
          ...options,
        }),
      cleanup: () => deleteQueues(prefix),
    };
  };
}

/** The same skip reason for each of `names`. */
function skipping(names: readonly BrokerCaseName[], reason: string): SkipList<BrokerCaseName> {
  return Object.fromEntries(names.map((name) => [name, reason]));
}

function skippingAllBut(kept: readonly BrokerCaseName[], reason: string) {
  const names = Object.keys(BROKER_CASES) as BrokerCaseName[];
  return skipping(
    names.filter((name) => !kept.includes(name)),
    reason,
  );
}

// SQS counts visibility timeouts in whole seconds.
const leaseMs = 1_000;

describeBrokerConformance("sqs", harness("t"), {
  leaseMs,
  skip: {
    "priority-order":
      "priority lanes group priorities (3 lanes by default: 0–3, 4–6, 7–9); order inside a lane is SQS's, not by priority",
  },
});

describeBrokerConformance("sqs with 10 lanes (one per priority)", harness("p", { lanes: 10 }), {
  leaseMs,
  skip: skippingAllBut(
    ["priority-order", "fifo-within-priority"],
    "the same code as with 3 lanes, run by the sqs suite: 10 lanes change only the order",
  ),
});

const FIFO_GROUP_LOCK =
  "holds several messages of one queue at once before settling, which a FIFO message group (= the GoTaskQ queue and lane) never allows";
describeBrokerConformance("sqs with FIFO lanes (fifo=true)", harness("f", { fifo: true }), {
  leaseMs,
  skip: {
    ...skipping(
      [
        "durable-publish",
        "exclusive-delivery",
        "dead-letter-queue",
        "prefetch",
        "stats",
        "close",
        "batch-10k",
      ],
      FIFO_GROUP_LOCK,
    ),
    "priority-order": "needs 10 lanes (one per priority); FIFO lanes are 3 by default",
    revocation: "the control channel is the same with FIFO lanes: run by the sqs suite",
    presence: "the control channel is the same with FIFO lanes: run by the sqs suite",
    "lease-lost":
      "not selected for FIFO lanes yet (it passes on fauxqs): the same lease code as the sqs suite, except that a settle keeps its slot until the delete lands",
  },
});

describe("sqs with FIFO lanes (fifo=true)", () => {
  it("keeps publish order with one message of a queue in flight at a time, even with prefetch 10", async () => {
    const prefix = `f${randomBytes(4).toString("hex")}-`;
    const broker = openSqsBroker({
      endpoint: emulator.endpoint,
      region: "us-east-1",
      prefix,
      credentials,
      fifo: true,
    });
    try {
      const ids = Array.from({ length: 20 }, (_, i) => `o${i}`);
      await broker.publish(
        "ordered",
        ids.map((id) => message(id)),
      );
      const order: string[] = [];
      let held = 0;
      let most = 0;
      await broker.consume(["ordered"], { prefetch: 10, leaseMs: 5_000 }, (d) => {
        held++;
        most = Math.max(most, held);
        setTimeout(() => {
          order.push(d.id);
          held--;
          void d.ack();
        }, 5);
      });
      await pollUntil(() => order.length === ids.length, { timeoutMs: 20_000, what: "20 acks" });
      expect(order).toEqual(ids);
      expect(most).toBe(1);
    } finally {
      await broker.close();
      await deleteQueues(prefix);
    }
  });
});

describe("sqs broker specifics", () => {
  const brokers: Broker[] = [];
  let prefix = "";
  afterEach(async () => {
    await Promise.allSettled(brokers.splice(0).map((b) => b.close()));
    await deleteQueues(prefix);
  });

  function open(options: Partial<SqsBrokerOptions> = {}): Broker {
    prefix ||= `s${randomBytes(4).toString("hex")}-`;
    const broker = openSqsBroker({
      endpoint: emulator.endpoint,
      region: "us-east-1",
      prefix,
      credentials,
      ...options,
    });
    brokers.push(broker);
    return broker;
  }

  beforeEach(() => {
    prefix = `s${randomBytes(4).toString("hex")}-`;
  });

  async function inspect(sqsName: string): Promise<{
    ready: { body: string; messageAttributes: Record<string, { StringValue: string }> }[];
    delayed: {
      body: string;
      delayUntil: number;
      messageAttributes: Record<string, { StringValue: string }>;
    }[];
  }> {
    const response = await fetch(`${emulator.endpoint}/_fauxqs/queues/${sqsName}`);
    return ((await response.json()) as { messages: never }).messages;
  }

  it("deletes a control inbox nobody reads (its subscriber died) when a new subscriber starts", async () => {
    const names = new QueueNames(prefix);
    const client = new SQSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials });
    const create = async (id: string) =>
      (await client.send(new CreateQueueCommand({ QueueName: names.control(id) }))).QueueUrl;
    const abandoned = await create("deadbeef");
    await create("quiet");
    for (let sent = 0; sent <= ABANDONED_BACKLOG; sent += 10) {
      await client.send(
        new SendMessageBatchCommand({
          QueueUrl: abandoned,
          Entries: Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: "{}" })),
        }),
      );
    }
    const inboxes = async () =>
      (
        await client.send(new ListQueuesCommand({ QueueNamePrefix: names.controlPrefix }))
      ).QueueUrls?.map((url) => url.slice(url.lastIndexOf("/") + 1)) ?? [];
    await open().control.subscribe(() => {});
    await pollUntil(async () => !(await inboxes()).includes(names.control("deadbeef")), {
      timeoutMs: 5_000,
      what: "the abandoned inbox to be deleted",
    });
    expect(await inboxes()).toContain(names.control("quiet"));
    expect(await inboxes()).toHaveLength(2); // the quiet one and the new subscriber's
    client.destroy();
  });

  it("parses the sqs:// URL and refuses what it does not know, saying what to change", () => {
    expect(
      parseSqsUrl("sqs://?region=eu-west-1&endpoint=http://127.0.0.1:4566&prefix=app-&lanes=10"),
    ).toEqual({
      region: "eu-west-1",
      endpoint: "http://127.0.0.1:4566",
      prefix: "app-",
      lanes: 10,
    });
    expect(() => parseSqsUrl("sqs://?regoin=x")).toThrow(/unknown sqs:\/\/ URL option "regoin"/);
    expect(() => parseSqsUrl("sqs://?lanes=three")).toThrow(/whole number/);
    expect(() => openSqsBroker({ lanes: 11, region: "us-east-1" })).toThrow(/between 1 and 10/);
    expect(() => openSqsBroker({ prefix: "bad prefix", region: "us-east-1" })).toThrow(
      /prefix must be/,
    );
  });

  it("names queues reversibly, including GoTaskQ names SQS does not allow", async () => {
    const names = new QueueNames("x-");
    for (const queue of ["a.b:c_d", "emails", "a__b", "_d"]) {
      expect(names.queueOfLane(names.lane(queue, 2))).toBe(queue);
    }
    expect(names.parseRevocation(names.revocation("0193-abc", 1_700_000_000_123))).toEqual({
      taskId: "0193-abc",
      at: 1_700_000_000_123,
    });
    expect(names.parseRevocation(names.revocation("weird id/é", 5))).toEqual({
      taskId: "weird id/é",
      at: 5,
    });
    const broker = open();
    await broker.publish("team.emails:eu", [message("n1")]);
    expect(await broker.queues()).toContain("team.emails:eu");
  });

  it("carries any bytes: invalid UTF-8 and characters SQS refuses travel as base64", async () => {
    const broker = open();
    const bodies = [
      new Uint8Array([0xff, 0xfe, 0x00, 0x01, 0x80]),
      new TextEncoder().encode("emoji 😀 and control \u0001"),
      new TextEncoder().encode('{"plain":"json é"}'),
    ];
    await broker.publish(
      "bytes",
      bodies.map((body, i) => ({ id: `b${i}`, body, priority: 5, delayMs: 0 })),
    );
    const inbox = new Inbox();
    await broker.consume(["bytes"], { prefetch: 5, leaseMs: 5_000 }, inbox.push);
    const got = [await inbox.next(5_000), await inbox.next(5_000), await inbox.next(5_000)];
    got.sort((a, b) => a.id.localeCompare(b.id));
    expect(got.map((d) => Buffer.from(d.body).toString("hex"))).toEqual(
      bodies.map((b) => Buffer.from(b).toString("hex")),
    );
    await Promise.all(got.map((d) => d.ack()));
  });

  it("keeps a delay beyond 15 minutes: 15 min in SQS plus the due time, re-sent on early arrival", async () => {
    const broker = open();
    const week = 7 * 86_400_000;
    const before = Date.now();
    await broker.publish("later", [message("weekly", { delayMs: week })]);
    const lane = new QueueNames(prefix).lane("later", 1);
    const [stored] = (await inspect(lane)).delayed;
    expect(Number(stored?.messageAttributes.gtq_due?.StringValue)).toBeGreaterThanOrEqual(
      before + week,
    );
    expect(stored?.delayUntil).toBeLessThanOrEqual(Date.now() + 900_000);

    // The same message arriving early (as it will after 15 minutes): sent again, not delivered.
    const client = new SQSClient({ endpoint: emulator.endpoint, region: "us-east-1", credentials });
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: lane }));
    const attributes = (dueAt: number) => ({
      gtq_id: { DataType: "String", StringValue: dueAt > Date.now() ? "early" : "due" },
      gtq_due: { DataType: "Number", StringValue: String(dueAt) },
    });
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: "early body",
        MessageAttributes: attributes(Date.now() + week),
      }),
    );
    await client.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: "due body",
        MessageAttributes: attributes(Date.now() - 1),
      }),
    );
    client.destroy();
    const inbox = new Inbox();
    await broker.consume(["later"], { prefetch: 5, leaseMs: 5_000 }, inbox.push);
    const due = await inbox.next(5_000);
    expect([due.id, read(due.body), due.deliveryCount]).toEqual(["due", "due body", 1]);
    await due.ack();
    await pollUntil(async () => (await inspect(lane)).delayed.length === 2, {
      timeoutMs: 5_000,
      what: "the early message sent again with a delay",
    });
    const resent = (await inspect(lane)).delayed.find((m) => m.body === "early body");
    expect(resent?.delayUntil).toBeGreaterThan(Date.now() + 800_000);
    expect(await inbox.nothingWithin(500)).toBeUndefined();
    expect(await broker.stats("later")).toMatchObject({ ready: 0, inFlight: 0, delayed: 2 });
  });

  it("refuses to extend a lease past SQS's 12 hours with an error that says so", async () => {
    let now = Date.now();
    const broker = open({ now: () => now });
    await broker.publish("long", [message("l1")]);
    const inbox = new Inbox();
    await broker.consume(["long"], { prefetch: 1, leaseMs: 5_000 }, inbox.push);
    const delivery = await inbox.next(5_000);
    await delivery.extendLease(5_000);
    now += 12 * 3_600_000 - 60_000;
    await expect(delivery.extendLease(5_000)).rejects.toMatchObject({
      code: "deadline_exceeded",
      message: expect.stringContaining("12 hours"),
    });
    now = Date.now();
    await delivery.ack();
  });

  it("dead-letters a message whose consumers keep dying as poison (native redrive backstop)", async () => {
    const broker = open({ maxReceiveCount: 2 });
    await broker.publish("crashy", [message("c1", { body: "crash me" })]);
    for (let attempt = 1; attempt <= 2; attempt++) {
      const dying = open({ maxReceiveCount: 2 });
      const inbox = new Inbox();
      await dying.consume(["crashy"], { prefetch: 1, leaseMs: 1_000 }, inbox.push);
      expect((await inbox.next(10_000)).deliveryCount).toBe(attempt);
      await dying.close(); // dies holding it: never settled
    }
    // The third receive finds the count over maxReceiveCount: SQS moves it to the DLQ.
    const survivor = new Inbox();
    await broker.consume(["crashy"], { prefetch: 1, leaseMs: 1_000 }, survivor.push);
    const [entry] = await pollUntil(
      async () => {
        const page = await broker.deadLetters("crashy").list({ limit: 10 });
        return page.entries.length > 0 ? page.entries : undefined;
      },
      { timeoutMs: 15_000, what: "the message in the DLQ" },
    );
    expect(entry).toMatchObject({ id: "c1", queue: "crashy", reason: "poison" });
    expect(entry?.detail).toMatch(/redrive policy/);
    expect(read(entry?.body ?? new Uint8Array())).toBe("crash me");
    expect(survivor.received).toEqual([]);
    expect((await broker.stats("crashy")).deadLettered).toBe(1);
  });

  it("fails fast with unavailable when the endpoint does not answer", async () => {
    const broker = openSqsBroker({
      endpoint: "http://127.0.0.1:9",
      region: "us-east-1",
      prefix: "nowhere-",
      credentials,
    });
    brokers.push(broker);
    const started = Date.now();
    await expect(broker.publish("q", [message("x")])).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining("ECONNREFUSED"),
    });
    await expect(broker.ping()).rejects.toMatchObject({ code: "unavailable" });
    await expect(broker.stats("q")).rejects.toMatchObject({ code: "unavailable" });
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("refuses a body whose base64 form would exceed the SQS limit, at publish", async () => {
    const broker = open({ maxMessageBytes: 16_384 });
    const limit = broker.limits.maxMessageBytes;
    expect(limit).toBe(16_384 - 4_096);
    const binary = new Uint8Array(limit).fill(0xff);
    await expect(
      broker.publish("big", [{ id: "bin", body: binary, priority: 5, delayMs: 0 }]),
    ).rejects.toMatchObject({ code: "invalid_argument", message: /base64/ });
  });
});

import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.js";

// The batcher's bookkeeping on its own (the SQS calls behind it run against the emulator in
// sqs-broker.test.ts): 10 entries per call, one call per queue URL, and partial failures
// handled item by item — retried when SQS failed them, reported when SQS refused them.

describe("Batcher", () => {
  it("sends 10 entries per call, grouped by queue URL", async () => {
    const calls: { url: string; items: number[] }[] = [];
    const batcher = new Batcher<number>(async (url, entries) => {
      calls.push({ url, items: entries.map((e) => e.item) });
      return { failed: [] };
    });
    const results = await Promise.all([
      ...Array.from({ length: 23 }, (_, i) => batcher.add("a", i)),
      batcher.add("b", 100),
    ]);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(calls.filter((c) => c.url === "a").map((c) => c.items.length)).toEqual([10, 10, 3]);
    expect(calls.find((c) => c.url === "b")?.items).toEqual([100]);
  });

  it("retries entries SQS failed on its side and reports those it refused, item by item", async () => {
    const attempts = new Map<number, number>();
    const batcher = new Batcher<number>(async (_url, entries) => {
      const failed = [];
      for (const { Id, item } of entries) {
        const n = (attempts.get(item) ?? 0) + 1;
        attempts.set(item, n);
        if (item === 1 && n < 2) failed.push({ Id, SenderFault: false, Code: "InternalError" });
        if (item === 2) failed.push({ Id, SenderFault: false, Code: "InternalError" });
        if (item === 3)
          failed.push({ Id, SenderFault: true, Code: "ReceiptHandleIsInvalid", Message: "gone" });
      }
      return { failed };
    });
    const [zero, one, two, three] = await Promise.all([0, 1, 2, 3].map((i) => batcher.add("q", i)));
    expect(zero).toEqual({ ok: true });
    expect(one).toEqual({ ok: true });
    expect(attempts.get(1)).toBe(2);
    expect(two).toMatchObject({ ok: false, code: "InternalError" });
    expect(attempts.get(2)).toBe(3);
    expect(three).toEqual({ ok: false, code: "ReceiptHandleIsInvalid", message: "gone" });
    expect(attempts.get(3)).toBe(1);
  });

  it("rejects every entry of a call that failed as a whole", async () => {
    const batcher = new Batcher<number>(async () => {
      throw new Error("connection refused");
    });
    await expect(batcher.add("q", 1)).rejects.toThrow("connection refused");
  });
});

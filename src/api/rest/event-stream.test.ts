import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../logging/logger.js";
import { submitted, taskId } from "../../tracking/conformance/fixtures.case.js";
import { openSqlTrackingStore } from "../../tracking/sql/sql-tracking-store.js";
import type { TrackingStore } from "../../tracking/tracking-store.js";
import { TaskFeed } from "../task-feed.js";
import { type EventFilter, EventStreamHub } from "./event-stream.js";

// The SSE fan-out on a real HTTP server and a real (in-memory SQLite) tracking store.

let store: TrackingStore;
let hub: EventStreamHub;
let server: Server;
let url: string;
const authorized = new Map<string, boolean>();

async function setup(options: { maxBufferBytes?: number; pingMs?: number } = {}) {
  store = await openSqlTrackingStore("sqlite::memory:");
  await store.migrate();
  const logger = silentLogger();
  hub = new EventStreamHub({
    logger,
    feed: new TaskFeed({ source: (q) => store.updates(q), logger, pollMs: 10 }),
    ...options,
  });
  server = createServer((req, res) => {
    const params = new URL(req.url ?? "/", "http://x").searchParams;
    const filter: EventFilter = params.get("queue") ? { queue: params.get("queue") as string } : {};
    const name = params.get("name") ?? "";
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.write(": connected\n\n");
    hub.add({ response: res, filter, stillAuthorized: () => authorized.get(name) ?? true });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  await hub.close();
  await new Promise((resolve) => server.close(resolve));
  await store.close();
  authorized.clear();
});

/** Reads a stream's text until `until` holds; resolves with it. */
async function read(path: string, until: (text: string) => boolean, abort: AbortController) {
  const response = await fetch(`${url}${path}`, { signal: abort.signal });
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  return {
    text: () => text,
    done: (async () => {
      while (!until(text)) {
        const { value, done } = await reader.read();
        if (done) return { text, ended: true };
        text += decoder.decode(value, { stream: true });
      }
      return { text, ended: false };
    })(),
  };
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("live event streams", () => {
  it("sends each client the tasks its filter matches, as `event: task` messages", async () => {
    await setup();
    const abort = new AbortController();
    const [mail, other] = [taskId(), taskId()];
    const all = await read("/?name=a", (t) => t.includes(mail) && t.includes(other), abort);
    const onlyMail = await read("/?queue=mail&name=b", (t) => t.includes(mail), abort);
    await until(() => hub.size === 2, "two clients");
    await store.record([
      submitted(other, Date.now(), { queue: "default" }),
      submitted(mail, Date.now(), { queue: "mail" }),
    ]);
    const a = await all.done;
    const b = await onlyMail.done;
    expect(a.text).toMatch(new RegExp(`event: task\\ndata: \\{"id":"${mail}","status":"PENDING"`));
    expect(b.text).not.toContain(other);
    abort.abort();
  });

  it("drops a client that stops reading, and keeps serving the others", async () => {
    await setup({ maxBufferBytes: 2 * 1_048_576 });
    // A raw connection that sends its request and then never reads.
    const slow = net.connect((server.address() as AddressInfo).port, "127.0.0.1");
    slow.write("GET /?name=slow HTTP/1.1\r\nhost: x\r\n\r\n");
    slow.pause();
    const abort = new AbortController();
    const last = taskId();
    const reader = await read("/?name=fast", (t) => t.includes(last), abort);
    await until(() => hub.size === 2, "two clients");
    const big = "x".repeat(64 * 1024);
    // 40 rounds of 640 KiB, each read by the fast client before the next: ~26 MB in all, far
    // more than the slow client's socket buffers plus its 2 MiB queue.
    for (let i = 0; i < 40 && hub.dropped === 0; i += 1) {
      const ids = Array.from({ length: 10 }, () => taskId());
      await store.record(ids.map((id) => submitted(id, Date.now(), { payload: { big } })));
      await until(() => reader.text().includes(ids[9] as string), `round ${i} to be read`);
    }
    await store.record([submitted(last, Date.now())]);
    await until(() => hub.dropped === 1, "the slow client to be dropped");
    expect((await reader.done).ended).toBe(false);
    expect(hub.size).toBe(1);
    abort.abort();
    slow.destroy();
  });

  it("ends a stream at the next ping once its credential is no longer valid", async () => {
    await setup({ pingMs: 20 });
    const abort = new AbortController();
    const stream = await read("/?name=gone", () => false, abort);
    await until(() => hub.size === 1, "the client");
    authorized.set("gone", false);
    expect((await stream.done).ended).toBe(true);
    expect(hub.size).toBe(0);
  });

  it("ends every stream on close, so the server can shut down", async () => {
    await setup();
    const abort = new AbortController();
    const streams = [await read("/", () => false, abort), await read("/", () => false, abort)];
    await until(() => hub.size === 2, "two clients");
    await hub.close();
    for (const s of streams) expect((await s.done).ended).toBe(true);
    expect(hub.closed).toBe(true);
  });
});

import type { TaskEvent, TaskLogLine } from "../tracking-store.js";

// The messages between the SQLite tracking write thread and the thread that owns the store: one
// request per batch (the whole batch in one structured-clone message, never one per item), one
// reply per request, matched by id.

export interface WriteThreadData {
  filename: string;
}

export type WriteRequest =
  | { id: number; kind: "events"; items: readonly TaskEvent[] }
  | { id: number; kind: "logs"; items: readonly TaskLogLine[] }
  /** Handled after every request sent before it: closes the connection and ends the thread. */
  | { kind: "close" };

export type WriteReply =
  | { id: number; ok: true }
  /** `code` is the driver's error code, so the store classifies it as on the main thread. */
  | { id: number; ok: false; message: string; code?: string };

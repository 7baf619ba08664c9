import type { DeadLetterEntry, DeadLetterReason } from "../broker/broker.js";
import { decodeEnvelope } from "../core/envelope.js";

// A DLQ entry as API clients read it: the envelope's essentials when the body decodes, and the
// start of the raw body as text when it does not (a `decode_error` entry has nothing else).

export interface DeadLetterView {
  id: string;
  queue: string;
  reason: DeadLetterReason;
  detail: string;
  /** ISO 8601. */
  dead_lettered_at: string;
  function_key?: string;
  attempt?: number;
  run?: number;
  payload?: unknown;
  /** The first 2,000 characters of an undecodable body. */
  body?: string;
}

export function deadLetterView(entry: DeadLetterEntry): DeadLetterView {
  const view: DeadLetterView = {
    id: entry.id,
    queue: entry.queue,
    reason: entry.reason,
    detail: entry.detail,
    dead_lettered_at: new Date(entry.deadLetteredAt).toISOString(),
  };
  try {
    const envelope = decodeEnvelope(entry.body);
    view.function_key = envelope.function_key;
    view.attempt = envelope.attempt;
    view.run = envelope.run;
    view.payload = envelope.payload;
  } catch {
    view.body = new TextDecoder().decode(entry.body).slice(0, 2_000);
  }
  return view;
}

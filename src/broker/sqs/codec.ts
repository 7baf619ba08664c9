import type { Message, MessageAttributeValue } from "@aws-sdk/client-sqs";
import { InvalidArgumentError } from "../../core/errors.js";

// How a GoTaskQ message travels in SQS. SQS bodies are XML-safe Unicode strings, not bytes. The
// usual case, a text body (the JSON envelope), is framed as "#gtq:<task id>\n<body>" with no
// message attributes at all: attributes cost an MD5 on both ends and their own serialization,
// which the raw ceiling does not pay either. Everything rarer travels in attributes:
//   gtq_id      task id (bodies that are not text) gtq_prior  deliveries that ended unsettled
//   gtq_due     due time (epoch ms), > 15 min       gtq_enc    "b64" when the body is base64
// and on DLQ copies: gtq_queue, gtq_reason, gtq_detail (≤ 2 000 bytes), gtq_at (epoch ms).
// A body that is valid UTF-8 of characters SQS accepts is sent as is; anything else is base64.
// Characters beyond U+FFFF are valid on AWS but refused by fauxqs, so they also go as base64.

export const ATTRIBUTE_RESERVE_BYTES = 4_096;
const FRAME = "#gtq:";
export const DETAIL_MAX_BYTES = 2_000;

// Tab, LF, CR and U+0020–U+D7FF, U+E000–U+FFFD (built from a string: the linter refuses
// control characters in regex literals).
const ALLOWED = "\\t\\n\\r\\u0020-\\uD7FF\\uE000-\\uFFFD";
const SAFE_TEXT = new RegExp(`^[${ALLOWED}]*$`);
const UNSAFE_CHAR = new RegExp(`[^${ALLOWED}]`, "g");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

export type Attributes = Record<string, MessageAttributeValue>;

export interface EncodedBody {
  text: string;
  attributes: Attributes;
}

const str = (value: string): MessageAttributeValue => ({ DataType: "String", StringValue: value });
const num = (value: number): MessageAttributeValue => ({
  DataType: "Number",
  StringValue: String(value),
});

export function encodeMessage(
  id: string,
  body: Uint8Array,
  extra: { prior?: number; dueAt?: number } = {},
): EncodedBody {
  const attributes: Attributes = {};
  let text: string | undefined;
  try {
    const decoded = strictUtf8.decode(body);
    if (SAFE_TEXT.test(decoded)) text = decoded;
  } catch {
    // not UTF-8: base64 below
  }
  if (text !== undefined && !id.includes("\n") && SAFE_TEXT.test(id)) {
    text = `${FRAME}${id}\n${text}`;
  } else {
    attributes.gtq_id = str(id);
    if (text === undefined) {
      text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64");
      attributes.gtq_enc = str("b64");
    }
  }
  if (extra.prior) attributes.gtq_prior = num(extra.prior);
  if (extra.dueAt !== undefined) attributes.gtq_due = num(extra.dueAt);
  return { text, attributes };
}

/** Size as SQS counts it: body bytes plus each attribute's name, type and value bytes. */
export function sqsSize(encoded: EncodedBody): number {
  let size = Buffer.byteLength(encoded.text, "utf8");
  for (const [name, value] of Object.entries(encoded.attributes)) {
    size +=
      name.length + (value.DataType?.length ?? 0) + Buffer.byteLength(value.StringValue ?? "");
  }
  return size;
}

export function checkEncodedSize(id: string, encoded: EncodedBody, sqsMaxBytes: number): void {
  const size = sqsSize(encoded);
  if (size > sqsMaxBytes) {
    throw new InvalidArgumentError(
      `message ${id} takes ${size} bytes in SQS (binary bodies travel as base64); the configured SQS limit is ${sqsMaxBytes} bytes (shrink the payload)`,
    );
  }
}

export function deadLetterAttributes(
  queue: string,
  reason: string,
  detail: string,
  at: number,
): Attributes {
  let clipped = detail;
  if (Buffer.byteLength(clipped) > DETAIL_MAX_BYTES) {
    clipped = Buffer.from(clipped)
      .subarray(0, DETAIL_MAX_BYTES - 3)
      .toString("utf8");
    clipped = `${clipped.replace(/\uFFFD$/, "")}...`;
  }
  const attributes: Attributes = {
    gtq_queue: str(queue),
    gtq_reason: str(reason),
    gtq_at: num(at),
  };
  // SQS refuses empty attribute values.
  if (clipped.length > 0) attributes.gtq_detail = str(clipped.replace(UNSAFE_CHAR, "?"));
  return attributes;
}

/** A received SQS message, decoded. */
export interface ReceivedMessage {
  id: string;
  body: Uint8Array;
  receiptHandle: string;
  /** SQS's ApproximateReceiveCount of this SQS message. */
  receiveCount: number;
  prior: number;
  dueAt: number | undefined;
  sentAt: number;
  attributes: Attributes;
  /** The encoded body as received, to re-send it unchanged. */
  text: string;
}

function attr(message: Message, name: string): string | undefined {
  return message.MessageAttributes?.[name]?.StringValue;
}

export function decodeMessage(message: Message): ReceivedMessage {
  const text = message.Body ?? "";
  const base64 = attr(message, "gtq_enc") === "b64";
  const due = attr(message, "gtq_due");
  let id = attr(message, "gtq_id");
  let body: Uint8Array;
  const cut = id === undefined && text.startsWith(FRAME) ? text.indexOf("\n") : -1;
  if (cut > 0) {
    id = text.slice(FRAME.length, cut);
    body = encoder.encode(text.slice(cut + 1));
  } else {
    // Attribute form, or a message GoTaskQ did not send (its body goes to the worker as is,
    // which dead-letters it as decode_error).
    body = base64 ? new Uint8Array(Buffer.from(text, "base64")) : encoder.encode(text);
  }
  return {
    id: id ?? message.MessageId ?? "unknown",
    body,
    receiptHandle: message.ReceiptHandle ?? "",
    receiveCount: Number(message.Attributes?.ApproximateReceiveCount ?? "1"),
    prior: Number(attr(message, "gtq_prior") ?? "0"),
    dueAt: due === undefined ? undefined : Number(due),
    sentAt: Number(message.Attributes?.SentTimestamp ?? "0"),
    attributes: message.MessageAttributes ?? {},
    text,
  };
}

/** The attributes of a message to re-send as is, with `prior` and `dueAt` replaced. */
export function resendAttributes(
  received: ReceivedMessage,
  changes: { prior?: number; dueAt?: number | undefined },
): Attributes {
  const attributes: Attributes = {};
  for (const [name, value] of Object.entries(received.attributes)) {
    if (!name.startsWith("gtq_")) continue;
    attributes[name] = { DataType: value.DataType, StringValue: value.StringValue };
  }
  delete attributes.gtq_prior;
  delete attributes.gtq_due;
  if (changes.prior) attributes.gtq_prior = num(changes.prior);
  if (changes.dueAt !== undefined) attributes.gtq_due = num(changes.dueAt);
  return attributes;
}

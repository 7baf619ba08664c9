import { InvalidArgumentError } from "../../core/errors.js";

// SQS queue names GoTaskQ uses, all under the configured prefix (SQS allows [A-Za-z0-9_-], at
// most 80 characters). GoTaskQ queue names may also hold "." and ":", so they are escaped
// reversibly: "_" → "__", "." → "_d", ":" → "_c". Kinds, each after the prefix:
//   q_<queue>_L<lane>   one standard queue per priority lane (lane 0 = lowest); with FIFO lanes
//                       q_<queue>_L<lane>.fifo, plus q_<queue>_L<lane>_D, the standard queue
//                       that holds their delayed messages (FIFO queues take no per-message delay)
//   d_<queue>           the queue's DLQ (GoTaskQ's dead letters and the redrive backstop)
//   c_<id>              a control subscriber's inbox (one per subscription)
//   r_<at>_<task>       a revocation marker: an empty queue whose name is the record (see
//                       control-channel.ts for why)

const SQS_NAME_MAX = 80;

export function escapeQueue(queue: string): string {
  return queue.replace(/[_.:]/g, (c) => (c === "_" ? "__" : c === "." ? "_d" : "_c"));
}

export function unescapeQueue(escaped: string): string {
  return escaped.replace(/_(.)/g, (_, c: string) => (c === "_" ? "_" : c === "d" ? "." : ":"));
}

function checked(name: string, what: string): string {
  if (name.length > SQS_NAME_MAX) {
    throw new InvalidArgumentError(
      `${what} gives the SQS queue name ${name} (${name.length} characters); SQS allows 80: use a shorter queue name or prefix`,
    );
  }
  return name;
}

export class QueueNames {
  constructor(
    readonly prefix: string,
    private readonly fifo = false,
  ) {}

  lane(queue: string, lane: number): string {
    const suffix = this.fifo ? ".fifo" : "";
    return checked(`${this.prefix}q_${escapeQueue(queue)}_L${lane}${suffix}`, `queue ${queue}`);
  }

  /** FIFO mode: the standard queue holding a FIFO lane's delayed messages. */
  delayLane(queue: string, lane: number): string {
    return checked(`${this.prefix}q_${escapeQueue(queue)}_L${lane}_D`, `queue ${queue}`);
  }

  deadLetters(queue: string): string {
    return checked(`${this.prefix}d_${escapeQueue(queue)}`, `queue ${queue}`);
  }

  get lanePrefix(): string {
    return `${this.prefix}q_`;
  }

  /** The GoTaskQ queue of a lane queue's name, or undefined for any other name. */
  queueOfLane(sqsName: string): string | undefined {
    const match = /_L\d(\.fifo)?$/.exec(sqsName);
    if (!sqsName.startsWith(this.lanePrefix) || !match) return undefined;
    return unescapeQueue(sqsName.slice(this.lanePrefix.length, match.index));
  }

  get controlPrefix(): string {
    return `${this.prefix}c_`;
  }

  control(id: string): string {
    return checked(`${this.controlPrefix}${id}`, "the control subscriber");
  }

  get revocationPrefix(): string {
    return `${this.prefix}r_`;
  }

  /** Marker name: time in base 36 (ms), then the task id, hex-encoded unless already name-safe. */
  revocation(taskId: string, at: number): string {
    const id = /^[A-Za-z0-9-]+$/.test(taskId)
      ? taskId
      : `_${Buffer.from(taskId, "utf8").toString("hex")}`;
    return checked(
      `${this.revocationPrefix}${Math.floor(at).toString(36)}_${id}`,
      `task id ${taskId}`,
    );
  }

  parseRevocation(sqsName: string): { taskId: string; at: number } | undefined {
    if (!sqsName.startsWith(this.revocationPrefix)) return undefined;
    const rest = sqsName.slice(this.revocationPrefix.length);
    const cut = rest.indexOf("_");
    if (cut <= 0) return undefined;
    const at = Number.parseInt(rest.slice(0, cut), 36);
    const raw = rest.slice(cut + 1);
    const taskId = raw.startsWith("_") ? Buffer.from(raw.slice(1), "hex").toString("utf8") : raw;
    if (!Number.isFinite(at) || taskId.length === 0) return undefined;
    return { taskId, at };
  }
}

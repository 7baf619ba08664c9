import { GoTaskQError, UnavailableError } from "../../core/errors.js";
import { describe } from "./link.js";

// The one place amqplib errors become domain errors. A server-side channel exception carries an
// AMQP reply code: 406 PRECONDITION_FAILED on a declaration means the name exists with other
// arguments (another queue_type, another priority setting): an operator has to act, so it is a
// `conflict` that names the object. Everything else amqplib raises here — a closed channel or
// connection, a refused socket, a forced shutdown — means "the broker cannot take this now":
// `unavailable`. Our own GoTaskQErrors pass through unchanged.

export function toDomainError(error: unknown, where: string, what: string): GoTaskQError {
  if (error instanceof GoTaskQError) return error;
  const code = (error as { code?: unknown })?.code;
  const text = describe(error);
  if (code === 406) {
    return new GoTaskQError(
      "conflict",
      `RabbitMQ at ${where} refused to ${what}: ${text}. The object exists with other arguments (e.g. created with another queue_type); delete it or use matching URL options`,
      { cause: error },
    );
  }
  if (code === 403) {
    return new GoTaskQError(
      "permission_denied",
      `RabbitMQ at ${where} refused to ${what}: ${text} (check the user's permissions on the vhost)`,
      { cause: error },
    );
  }
  return new UnavailableError(`RabbitMQ at ${where}: could not ${what} (${text}); retry later`, {
    cause: error,
  });
}

import { UnavailableError } from "../core/errors.js";

// A transport's port is held by another process. The composition root recognises the bind
// error once (fastify passes Node's EADDRINUSE through; grpc-js folds it into the message of a
// plain Error), so callers test one class: the CLI turns it into a line naming its flag and
// variable, a library user gets the port and transport as fields.

export type Transport = "rest" | "grpc";

export class PortInUseError extends UnavailableError {
  readonly transport: Transport;
  readonly host: string;
  readonly port: number;

  constructor(transport: Transport, host: string, port: number, cause: unknown) {
    super(`${transport === "rest" ? "REST" : "gRPC"} port ${port} on ${host} is in use`, {
      cause,
    });
    this.transport = transport;
    this.host = host;
    this.port = port;
  }
}

/** The PortInUseError that `error` (from binding `host:port`) stands for, else `error` itself. */
export function asPortInUse(
  error: unknown,
  where: { transport: Transport; host: string; port: number },
): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  const inUse = code === "EADDRINUSE" || /\bEADDRINUSE\b/.test((error as Error)?.message ?? "");
  return inUse ? new PortInUseError(where.transport, where.host, where.port, error) : error;
}

import { fileURLToPath } from "node:url";
import {
  type Client,
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

// A "stock" client: what any user builds from proto/gotaskq/v1/tasks.proto with grpc-js and
// proto-loader alone. It deliberately imports nothing from this repository, so the tests prove
// the .proto file is the whole contract.

const PROTO = fileURLToPath(new URL("../../../proto/gotaskq/v1/tasks.proto", import.meta.url));

export type Message = Record<string, unknown>;

/** A failed call as the tests inspect it. */
export interface CallFailure {
  code: number;
  details: string;
  metadata: Metadata;
}

type UnaryMethod = (
  request: Message,
  metadata: Metadata,
  callback: (error: ServiceError | null, response?: Message) => void,
) => unknown;

interface ServerStream extends NodeJS.EventEmitter {
  cancel(): void;
}
type StreamMethod = (request: Message, metadata: Metadata) => ServerStream;

/** Credentials as metadata: a Bearer key, an x-api-key, or nothing. */
export type Credentials = { bearer: string } | { apiKey: string } | undefined;

function metadataOf(key: Credentials): Metadata {
  const metadata = new Metadata();
  if (key && "bearer" in key) metadata.set("authorization", `Bearer ${key.bearer}`);
  if (key && "apiKey" in key) metadata.set("x-api-key", key.apiKey);
  return metadata;
}

function packageObject(root: GrpcObject, name: string): GrpcObject {
  return root[name] as GrpcObject;
}

export class StockClient {
  readonly client: Client;
  readonly #methods: Record<string, UnaryMethod | StreamMethod>;

  constructor(address: string) {
    const definition = loadSync(PROTO, {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: false,
      oneofs: true,
    });
    const root = loadPackageDefinition(definition);
    const TaskService = packageObject(packageObject(root, "gotaskq"), "v1")
      .TaskService as ServiceClientConstructor;
    this.client = new TaskService(address, credentials.createInsecure(), {
      "grpc.max_send_message_length": -1,
    });
    this.#methods = this.client as unknown as Record<string, UnaryMethod | StreamMethod>;
  }

  /** Resolves with the response, rejects with a CallFailure. */
  call(method: string, request: Message, key: Credentials): Promise<Message> {
    const fn = this.#methods[method] as UnaryMethod;
    return new Promise((resolve, reject) => {
      fn.call(this.client, request, metadataOf(key), (error, response) => {
        if (error) reject(failure(error));
        else resolve(response ?? {});
      });
    });
  }

  /** The CallFailure of a call expected to fail (throws if it succeeded). */
  async failure(method: string, request: Message, key: Credentials): Promise<CallFailure> {
    try {
      await this.call(method, request, key);
    } catch (error) {
      return error as CallFailure;
    }
    throw new Error(`${method} succeeded; a failure was expected`);
  }

  /**
   * Opens a server stream; `onMessage` may return true to cancel it. Resolves with every message
   * and the final status code (CANCELLED when we cancelled).
   */
  stream(
    method: string,
    request: Message,
    key: Credentials,
    onMessage: (message: Message) => boolean | undefined = () => undefined,
  ): Promise<{ messages: Message[]; code: number; details: string }> {
    const call = (this.#methods[method] as StreamMethod).call(
      this.client,
      request,
      metadataOf(key),
    );
    const messages: Message[] = [];
    return new Promise((resolve) => {
      call.on("data", (message: Message) => {
        messages.push(message);
        if (onMessage(message)) call.cancel();
      });
      call.on("error", () => undefined); // the status event below carries the outcome
      call.on("status", (status: { code: number; details: string }) =>
        resolve({ messages, code: status.code, details: status.details }),
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

function failure(error: ServiceError): CallFailure {
  return { code: error.code, details: error.details, metadata: error.metadata };
}

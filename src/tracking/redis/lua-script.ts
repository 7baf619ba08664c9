import { createHash } from "node:crypto";
import { Command, type Redis } from "ioredis";

// A Lua script sent by its SHA1 (EVALSHA) and, the first time a server does not know it
// (NOSCRIPT: a new server, a restart, SCRIPT FLUSH), once in full (EVAL), which also caches it.
// Arguments go in as one array: a batch of thousands of rows is far more values than a spread
// call (`evalsha(sha, n, ...args)`) may pass on Node's stack.

/** A Buffer goes to Redis as its bytes (a bulk string, as its text would). */
export type ScriptArg = string | number | Buffer;

export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash("sha1").update(source).digest("hex");
  }

  async run(client: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    const rest: ScriptArg[] = [keys.length as ScriptArg].concat(keys, args);
    try {
      return await send(client, "evalsha", [this.sha as ScriptArg].concat(rest));
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes("NOSCRIPT")) throw error;
      return await send(client, "eval", [this.source as ScriptArg].concat(rest));
    }
  }
}

function send(client: Redis, name: string, args: ScriptArg[]): Promise<unknown> {
  const command = new Command(name, args, { replyEncoding: "utf8" });
  void client.sendCommand(command);
  return command.promise as Promise<unknown>;
}

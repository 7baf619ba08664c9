import { describe, expect, it } from "vitest";
import { UnavailableError } from "../../core/errors.js";
import { toRedisTrackingError } from "./errors.js";

// The split the best-effort writer acts on: retry later (unavailable) or drop the refused item
// (internal).

function replyError(message: string): Error {
  return Object.assign(new Error(message), { name: "ReplyError" });
}

describe("toRedisTrackingError", () => {
  it("calls a script the server refused internal, and the server's state unavailable", () => {
    expect(
      toRedisTrackingError("record", replyError("ERR user_script:1: Script attempted to access")),
    ).toMatchObject({ code: "internal", message: expect.stringContaining("record failed") });
    for (const message of [
      "OOM command not allowed when used memory > 'maxmemory'.",
      "LOADING Redis is loading the dataset in memory",
      "BUSY Redis is busy running a script.",
      "READONLY You can't write against a read only replica.",
    ]) {
      expect(toRedisTrackingError("record", replyError(message)).code, message).toBe("unavailable");
    }
  });

  it("calls connection failures and timeouts unavailable, and keeps GoTaskQ errors as they are", () => {
    expect(toRedisTrackingError("get", new Error("Command timed out")).code).toBe("unavailable");
    expect(toRedisTrackingError("get", new Error("Connection is closed.")).code).toBe(
      "unavailable",
    );
    const own = new UnavailableError("x");
    expect(toRedisTrackingError("get", own)).toBe(own);
  });
});

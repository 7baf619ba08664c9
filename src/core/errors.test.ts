import { describe, expect, it } from "vitest";
import { GoTaskQError, PermanentError, TimeoutError } from "./errors.js";

describe("error classes", () => {
  it("recognise errors thrown by another copy of GoTaskQ (e.g. a task module loaded through tsx)", () => {
    // What a second copy of this module constructs: another class, the same recorded chain.
    class ForeignPermanentError extends Error {
      readonly code = "permanent";
      constructor() {
        super("bad input");
        Object.defineProperty(this, Symbol.for("gotaskq.error.classes"), {
          value: ["PermanentError", "GoTaskQError"],
        });
      }
    }
    const foreign = new ForeignPermanentError();
    expect(foreign instanceof PermanentError).toBe(true);
    expect(foreign instanceof GoTaskQError).toBe(true);
    expect(foreign instanceof TimeoutError).toBe(false);
    expect(new Error("plain") instanceof GoTaskQError).toBe(false);
  });

  it("keep ordinary instanceof semantics within one copy", () => {
    const error = new PermanentError("no");
    expect(
      error instanceof PermanentError && error instanceof GoTaskQError && error instanceof Error,
    ).toBe(true);
    expect(error instanceof TimeoutError).toBe(false);
    expect(error.code).toBe("permanent");
    expect(error.name).toBe("PermanentError");
  });
});

import { InvalidArgumentError } from "commander";

/** A commander option parser for integers that names the flag in its error. */
export function intOption(flag: string): (value: string) => number {
  return (value: string) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(n)) {
      throw new InvalidArgumentError(`${flag} takes an integer (got ${JSON.stringify(value)})`);
    }
    return n;
  };
}

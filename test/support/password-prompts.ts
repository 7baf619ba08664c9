import { spawn } from "node:child_process";

// Typing a password at the CLI's prompts as a person does: the command runs on a pseudo-terminal
// (util-linux `script`), and the password is typed only once a "Password:" prompt has been shown,
// when the terminal is in no-echo mode, so the output shows whether it was ever echoed.

export interface Answered {
  code: number | null;
  /** Everything the terminal showed. */
  output: string;
  /** How many prompts were answered. */
  answered: number;
}

/** Runs `command` (one shell command line) on a terminal, typing `password` at every prompt. */
export function answerPasswordPrompts(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; password: string },
): Promise<Answered> {
  const child = spawn("script", ["-qfec", command, "-E", "never", "/dev/null"], {
    cwd: options.cwd,
    env: options.env,
  });
  let output = "";
  let answered = 0;
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
    const prompts = output.split(/Password: /i).length - 1;
    while (answered < prompts) {
      child.stdin.write(`${options.password}\r`);
      answered += 1;
    }
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, output, answered })));
}

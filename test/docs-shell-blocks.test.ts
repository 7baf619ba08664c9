import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  EXEMPT_MARKER,
  fencedBlocks,
  REPO,
  RUN_MARKER,
  type ShellBlock,
} from "./support/as-a-user.js";

// Every command the README and docs/ show is run by a test, or says why not. A shell block
// (```sh, ```bash, or an untagged block of npx/npm/curl/export lines) must follow, on the line
// before its fence, either
//   <!-- run as written by test/e2e/<file>.test.ts[: name] -->   (that file exists and, for a
//                                                                  named block, names it)
//   <!-- not run by a test: <why> -->
// The tests that run them read the block after their marker (test/support/as-a-user.ts).

const SHELL = new Set(["sh", "bash", "shell", "zsh", "console"]);
const COMMAND_LINE = /^\s*(npx|npm|curl|export|gotaskq)\s/m;
/** A usage synopsis (docs/cli.md): `gotaskq <command> [options]`, not commands to run. */
const SYNOPSIS = /^gotaskq \S+ \[/;

/** An untagged block that holds commands (not a synopsis). */
const untaggedCommands = (b: ShellBlock): boolean =>
  b.lang === "" && COMMAND_LINE.test(b.body) && !SYNOPSIS.test(b.body);

function markdownFiles(): string[] {
  const docs = readdirSync(path.join(REPO, "docs"), { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".md"))
    .map((file) => path.join("docs", file));
  return ["README.md", ...docs.sort()];
}

const blocks = markdownFiles().flatMap(fencedBlocks);
const where = (b: { file: string; line: number }) => `${b.file}:${b.line}`;

describe("README and docs: every shell block is run by a test or exempted", () => {
  it("finds the blocks (README.md and docs/**/*.md)", () => {
    expect(blocks.filter((b) => SHELL.has(b.lang)).length).toBeGreaterThan(10);
  });

  it("every shell block follows a run-as-written or a not-run marker", () => {
    const unmarked = blocks
      .filter((b) => SHELL.has(b.lang) || untaggedCommands(b))
      .filter((b) => !RUN_MARKER.test(b.before) && !EXEMPT_MARKER.test(b.before))
      .map((b) => `${where(b)} (\`\`\`${b.lang}): ${b.body.split("\n")[0]}`);
    expect(
      unmarked,
      "mark each with <!-- run as written by test/e2e/<file>: <name> --> (and run it there) or <!-- not run by a test: <why> -->",
    ).toEqual([]);
  });

  it("untagged blocks of commands say they are shell", () => {
    const untagged = blocks.filter(untaggedCommands).map(where);
    expect(untagged, "tag them ```sh").toEqual([]);
  });

  it("every run-as-written marker names a test file that exists and reads that block", () => {
    const problems: string[] = [];
    for (const b of blocks) {
      const marker = RUN_MARKER.exec(b.before);
      if (!marker) continue;
      const [, testFile, name] = marker as unknown as [string, string, string | undefined];
      const absolute = path.join(REPO, testFile);
      if (!/^test\/.+\.test\.ts$/.test(testFile) || !existsSync(absolute)) {
        problems.push(`${where(b)}: ${testFile} is not a test file`);
        continue;
      }
      if (name && !readFileSync(absolute, "utf8").includes(JSON.stringify(name)))
        problems.push(`${where(b)}: ${testFile} never names "${name}"`);
    }
    expect(problems).toEqual([]);
  });

  it("no marker is left without its block, and no block has two run markers of one name", () => {
    const markers = markdownFiles().flatMap((file) =>
      readFileSync(path.join(REPO, file), "utf8")
        .split("\n")
        .map((line, i) => ({ file, line: i + 1, text: line }))
        .filter(({ text }) => RUN_MARKER.test(text) || EXEMPT_MARKER.test(text)),
    );
    const followed = new Set(blocks.map((b) => `${b.file}\n${b.before}`));
    const orphans = markers
      .filter((m) => !followed.has(`${m.file}\n${m.text}`))
      .map((m) => `${m.file}:${m.line}`);
    expect(orphans, "a marker must be the line right before a fence").toEqual([]);
    const runMarkers = markers.filter((m) => RUN_MARKER.test(m.text)).map((m) => m.text);
    expect(runMarkers.filter((m, i) => runMarkers.indexOf(m) !== i)).toEqual([]);
  });
});

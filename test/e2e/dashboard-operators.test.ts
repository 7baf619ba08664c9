import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CLI, Sandbox } from "../support/cli.js";
import { answerPasswordPrompts } from "../support/password-prompts.js";

/**
 * util-linux `script` gives the CLI a real terminal (a pty), as an administrator has. `-E never`:
 * script must not echo what it forwards itself, so only the terminal's own echo could show.
 */
const hasScript = spawnSync("script", ["--help"]).stdout?.toString().includes("--echo") ?? false;

// `gotaskq operators add|list|remove` as an administrator runs it: the password from stdin (no
// terminal here), refused when weak, stored only as a scrypt hash in a 0600 file.

describe("gotaskq operators", () => {
  const box = new Sandbox();
  const file = path.join(box.dir, ".gotaskq", "operators.json");
  afterAll(() => box.cleanup());

  const add = (name: string, role: string, password: string, extra: string[] = []) =>
    box.run(["operators", "add", name, "--role", role, "--password-stdin", ...extra], {
      stdin: password,
    });

  it("adds operators from --password-stdin and stores only a scrypt hash, in a 0600 file", async () => {
    const r = await add("alice", "operator", "correct horse battery staple\n");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('operator "alice" (operator) added');
    expect((await add("bob", "viewer", "another long passphrase", ["--json"])).code).toBe(0);
    const text = readFileSync(file, "utf8");
    expect(text).not.toContain("horse");
    const doc = JSON.parse(text) as {
      operators: { name: string; hash: Record<string, unknown> }[];
    };
    expect(doc.operators[0]?.hash).toMatchObject({
      algorithm: "scrypt",
      N: expect.any(Number),
      r: expect.any(Number),
      p: expect.any(Number),
      salt: expect.any(String),
      hash: expect.any(String),
    });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it("lists operators with their role, never their hash", async () => {
    const list = await box.json<Record<string, unknown>[]>(["operators", "list"]);
    expect(list).toEqual([
      { name: "alice", role: "operator", created_at: expect.any(String) },
      { name: "bob", role: "viewer", created_at: expect.any(String) },
    ]);
    const table = await box.run(["operators", "list"]);
    expect(table.stdout).toMatch(/NAME\s+ROLE\s+CREATED/);
    expect(table.stdout).toMatch(/bob\s+viewer/);
    expect(table.stdout).not.toMatch(/scrypt|salt/);
  });

  it("refuses empty and weak passwords, bad roles and names, and duplicates, saying why", async () => {
    const cases: [Promise<{ code: number | null; stderr: string }>, RegExp][] = [
      [add("carol", "viewer", ""), /password refused: it is empty/],
      [add("carol", "viewer", "\n"), /password refused: it is empty/],
      [add("carol", "viewer", "short"), /at least 12/],
      [add("carol", "viewer", "carol-carol-carol"), /operator's name/],
      [add("carol", "viewer", "zzzzzzzzzzzzzzzz"), /different characters/],
      [add("carol", "admin", "a perfectly fine phrase"), /role must be viewer or operator/],
      [add("bad name!", "viewer", "a perfectly fine phrase"), /operator name must match/],
      [add("alice", "viewer", "a perfectly fine phrase"), /already exists.*--replace/],
    ];
    for (const [run, message] of cases) {
      const r = await run;
      expect(r.code, message.source).toBe(1);
      expect(r.stderr, message.source).toMatch(message);
      expect(r.stderr.trim().split("\n"), message.source).toHaveLength(1);
    }
    const missingRole = await box.run(["operators", "add", "carol", "--password-stdin"]);
    expect(missingRole.code).not.toBe(0);
    expect(missingRole.stderr).toMatch(/--role/);
    expect((await box.json<unknown[]>(["operators", "list"])).length).toBe(2);
  });

  it.skipIf(!hasScript)("prompts twice on a terminal without echoing the password", async () => {
    const password = "typed at the prompt 7";
    const command = [process.execPath, CLI, "operators", "add", "tty1", "--role", "viewer"]
      .map((part) => `'${part}'`)
      .join(" ");
    const { code, output } = await answerPasswordPrompts(command, {
      cwd: box.dir,
      env: { ...process.env, ...box.env },
      password,
    });
    expect(code, output).toBe(0);
    expect(output).toMatch(/Password: [\s\S]*Repeat password: /);
    expect(output).toContain('operator "tty1" (viewer) added');
    expect(output).not.toContain(password);
    expect(await box.json(["operators", "list"])).toContainEqual(
      expect.objectContaining({ name: "tty1", role: "viewer" }),
    );
    expect((await box.run(["operators", "remove", "tty1"])).code).toBe(0);
  });

  it("asks for --password-stdin when there is no terminal to prompt on", async () => {
    const r = await box.run(["operators", "add", "carol", "--role", "viewer"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--password-stdin/);
  });

  it("lets an operator of the file log in to the dashboard of gotaskq server", async () => {
    const server = await box.start(["server"], { readyText: "GoTaskQ server" });
    const url = /dashboard (http:\/\/\S+)\//.exec(server.output())?.[1];
    expect(url).toBeDefined();
    const page = await fetch(`${url}/workers`, { redirect: "manual" });
    expect(page.status).toBe(302);
    expect(page.headers.get("location")).toBe("/login?next=%2Fworkers");
    const login = (password: string) =>
      fetch(`${url}/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "alice", password }),
      });
    expect((await login("not her password")).status).toBe(401);
    const ok = await login("correct horse battery staple");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ operator: { name: "alice", role: "operator" } });
    server.kill("SIGTERM");
  });

  it("replaces a password with --replace and removes operators by name", async () => {
    const replaced = await add("bob", "operator", "a brand new passphrase", ["--replace"]);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(await box.json(["operators", "list"])).toContainEqual(
      expect.objectContaining({ name: "bob", role: "operator" }),
    );
    expect((await box.run(["operators", "remove", "bob"])).stdout).toBe("removed bob\n");
    const again = await box.run(["operators", "remove", "bob"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no operator named "bob".*operators: alice/);
    expect(await box.json(["operators", "list"])).toEqual([
      expect.objectContaining({ name: "alice" }),
    ]);
  });

  it("reports a corrupt operators file with what to do", async () => {
    const other = new Sandbox({ GOTASKQ_OPERATORS_FILE: path.join(box.dir, "broken.json") });
    try {
      const { writeFileSync } = await import("node:fs");
      writeFileSync(path.join(box.dir, "broken.json"), "{not json");
      const r = await other.run(["operators", "list"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/not a valid operators file.*gotaskq operators add/);
    } finally {
      await other.cleanup();
    }
  });
});

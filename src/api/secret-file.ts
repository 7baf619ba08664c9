import { randomBytes } from "node:crypto";
import { mkdir, open, rename, rm } from "node:fs/promises";
import path from "node:path";

// The API keys file and the operators file hold hashes of secrets: each is replaced whole and
// atomically (a reader sees the old file or the new one, never half of one), readable by its
// owner only, and fsynced before the rename so a crash cannot leave an empty file behind.

/** Writes `doc` as pretty JSON to `file`: mode 0600, in a 0700 folder, atomically. */
export async function writeSecretFile(file: string, doc: unknown): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(doc, null, 2)}\n`, "utf8");
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

import type { TaskOperations } from "../../api/task-operations.js";
import { GoTaskQError } from "../../core/errors.js";
import { sleep } from "../../core/lifecycle.js";
import { isFinalStatus } from "../../core/status.js";
import type { TaskRecord } from "../../tracking/tracking-store.js";
import { CliError } from "../output.js";

// Following a task to a final status (`submit --wait`, `status --wait`): poll its tracked
// record, which may lag behind the submission by a tracking batch.

/** Not tracked yet (tracking lags behind submission) reads as "keep waiting". */
async function tracked(service: TaskOperations, id: string): Promise<TaskRecord | undefined> {
  try {
    return await service.get(id);
  } catch (error) {
    if (error instanceof GoTaskQError && error.code === "not_found") return undefined;
    throw error;
  }
}

export async function waitForFinal(
  service: TaskOperations,
  id: string,
  timeoutMs: number,
): Promise<TaskRecord> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskRecord | undefined;
  while (Date.now() < deadline) {
    last = await tracked(service, id);
    if (last && isFinalStatus(last.status)) return last;
    await sleep(100);
  }
  throw new CliError(
    `task ${id} did not reach a final status within ${timeoutMs} ms (last seen: ${last?.status ?? "not tracked yet"}); is a worker running?`,
  );
}

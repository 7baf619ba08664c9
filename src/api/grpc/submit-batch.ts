import { type ErrorCode, GoTaskQError } from "../../core/errors.js";
import { decodeBatch } from "../service-input.js";
import type { BatchItemView, TaskService } from "../task-service.js";
import { submissionOf } from "./requests.js";
import { asObject, type Loose } from "./wire.js";

// SubmitTasks. An item whose payload_json is not JSON cannot even be handed to the service
// (there is no payload value to give it), yet it must not sink the batch: it gets its error in
// place, like any item the service refuses, and the others go to the service. The service
// numbers its messages within the items it saw ("tasks[3]: …"), so those are renumbered back to
// each item's position in the request.

type ItemError = Extract<BatchItemView, { error: unknown }>;

export async function submitBatch(service: TaskService, request: Loose): Promise<BatchItemView[]> {
  const items = decodeBatch({ tasks: request.tasks }); // the 1–1000 rule, with REST's message
  const results: BatchItemView[] = new Array(items.length);
  const passed: Record<string, unknown>[] = [];
  const positions: number[] = [];
  items.forEach((item, index) => {
    try {
      passed.push(submissionOf(asObject(item), `tasks[${index}]: `));
      positions.push(index);
    } catch (error) {
      results[index] = itemError(error);
    }
  });
  if (passed.length === 0) return results;
  const { results: answered } = await service.submitBatch({ tasks: passed });
  answered.forEach((item, seenAs) => {
    const index = positions[seenAs] ?? seenAs;
    results[index] = "error" in item ? renumbered(item, seenAs, index) : item;
  });
  return results;
}

function itemError(error: unknown): ItemError {
  const code: ErrorCode = error instanceof GoTaskQError ? error.code : "internal";
  return { error: { code, message: error instanceof Error ? error.message : String(error) } };
}

function renumbered(item: ItemError, seenAs: number, index: number): ItemError {
  const prefix = `tasks[${seenAs}]: `;
  const { code, message } = item.error;
  if (seenAs === index || !message.startsWith(prefix)) return item;
  return { error: { code, message: `tasks[${index}]: ${message.slice(prefix.length)}` } };
}

import { GoTaskQError } from "../../core/errors.js";
import type { BatchItemView, TaskService } from "../task-service.js";
import { submissionOf } from "./requests.js";
import { asObject, type Loose } from "./wire.js";

// SubmitTasks. An item whose payload_json is not JSON cannot become a submission (there is no
// payload value to give), yet it must not sink the batch: it travels on in its place as the
// error that says so, and the Producer answers it with that error, at its index, like any item
// it refuses. The others are validated there, once, with every other item.

export async function submitBatch(service: TaskService, request: Loose): Promise<BatchItemView[]> {
  const tasks = Array.isArray(request.tasks) ? request.tasks.map(decodedItem) : request.tasks;
  return (await service.submitBatch({ tasks })).results;
}

function decodedItem(item: unknown): Record<string, unknown> | GoTaskQError {
  try {
    return submissionOf(asObject(item));
  } catch (error) {
    if (error instanceof GoTaskQError) return error;
    throw error;
  }
}

import type { SubmittedTask } from "../producer/producer.js";
import type { RestTaskClient } from "./rest/rest-client.js";
import { scheduleWire } from "./rest/routes/schedules.js";
import type { ScheduleService } from "./schedule-service.js";

// The schedule operations the CLI calls, in the REST wire shape (what `--json` prints either
// way): over the local ScheduleService, or over a remote server's /v1/schedules
// (GOTASKQ_API_URL), so `gotaskq schedules …` works the same against both.

export type ScheduleWire = ReturnType<typeof scheduleWire>;

export interface ScheduleOperations {
  list(): Promise<ScheduleWire[]>;
  get(id: string): Promise<ScheduleWire>;
  create(body: unknown): Promise<ScheduleWire>;
  put(id: string, body: unknown): Promise<ScheduleWire>;
  pause(id: string): Promise<ScheduleWire>;
  resume(id: string): Promise<ScheduleWire>;
  trigger(id: string): Promise<SubmittedTask>;
  remove(id: string): Promise<void>;
}

export function localScheduleOperations(service: ScheduleService): ScheduleOperations {
  return {
    list: async () => (await service.list()).map(scheduleWire),
    get: async (id) => scheduleWire(await service.get(id)),
    create: async (body) => scheduleWire(await service.create(body)),
    put: async (id, body) => scheduleWire(await service.put(id, body)),
    pause: async (id) => scheduleWire(await service.pause(id)),
    resume: async (id) => scheduleWire(await service.resume(id)),
    trigger: (id) => service.trigger(id),
    remove: (id) => service.remove(id),
  };
}

export function remoteScheduleOperations(client: RestTaskClient): ScheduleOperations {
  const path = (id: string, tail = "") => `/v1/schedules/${encodeURIComponent(id)}${tail}`;
  const one = async (p: Promise<unknown>) => (await p) as ScheduleWire;
  return {
    list: async () =>
      ((await client.request("GET", "/v1/schedules")) as { schedules: ScheduleWire[] }).schedules,
    get: (id) => one(client.request("GET", path(id))),
    create: (body) => one(client.request("POST", "/v1/schedules", { body })),
    put: (id, body) => one(client.request("PUT", path(id), { body })),
    pause: (id) => one(client.request("POST", path(id, "/pause"))),
    resume: (id) => one(client.request("POST", path(id, "/resume"))),
    trigger: async (id) => (await client.request("POST", path(id, "/trigger"))) as SubmittedTask,
    remove: async (id) => {
      await client.request("DELETE", path(id));
    },
  };
}

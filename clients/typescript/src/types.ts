/** Request and response types, from the generated `schema.ts` (`npm run generate` after the API changes). */
import type { components, paths } from "./schema.js";

type Schemas = components["schemas"];

export type Task = Schemas["TaskPublic"];
export type TaskStatus = Schemas["TaskStatus"];
export type TaskError = Schemas["TaskError"];
export type TaskPage = Schemas["TaskPage"];
export type Asset = Schemas["Asset"];
export type Priority = Schemas["Priority"];

/** The body of `POST /v1/tasks`: a union of one request type per provider and task type. */
export type SubmitRequest = paths["/v1/tasks"]["post"]["requestBody"]["content"]["application/json"];
export type Provider = SubmitRequest["provider"];
export type TaskType<P extends Provider = Provider> = Extract<SubmitRequest, { provider: P }>["task_type"];
/** The typed params of one provider's task type, e.g. `Params<"diffusers", "text-to-image">`. */
export type Params<P extends Provider, T extends string> = Extract<
  SubmitRequest,
  { provider: P; task_type: T }
>["params"];

/** One Server-Sent Event of a task; the terminal one carries the finished `task`. */
export interface TaskEvent {
  /** `status` or `progress`. */
  event: string;
  /** The event id: resume after it with `events(id, { lastEventId })`. */
  seq: number;
  task_id: string;
  status: TaskStatus;
  progress?: number | null;
  /** Unix seconds. */
  at: number;
  task?: Task;
}

export const TERMINAL: ReadonlySet<TaskStatus> = new Set<TaskStatus>(["succeeded", "failed", "canceled"]);

/**
 * GenPulse client for TypeScript and JavaScript (ESM, no dependencies; Node 20+, browsers, Deno, Bun).
 *
 *     const gp = new GenPulse({ baseUrl: "http://127.0.0.1:8000" });
 *     const task = await gp.run("diffusers", "text-to-image", { prompt: "a red fox", width: 64, height: 64 });
 *     const png = await gp.download(task.result!.assets[0].id);
 */
export { GenPulse, VERSION } from "./client.js";
export type { GenPulseOptions, ListOptions, SubmitOptions } from "./client.js";
export { GenPulseError, TaskFailedError } from "./errors.js";
export { signWebhook, verifyWebhook } from "./webhooks.js";
export { TERMINAL } from "./types.js";
export type {
  Asset,
  Params,
  Priority,
  Provider,
  SubmitRequest,
  Task,
  TaskError,
  TaskEvent,
  TaskPage,
  TaskStatus,
  TaskType,
} from "./types.js";
export type { components, paths } from "./schema.js";

import { GenPulseError, TaskFailedError, errorOf } from "./errors.js";
import { SseDecoder, lines } from "./sse.js";
import { webCrypto } from "./webhooks.js";
import { TERMINAL } from "./types.js";
import type { Asset, Params, Priority, Provider, Task, TaskEvent, TaskPage, TaskStatus, TaskType } from "./types.js";

export interface GenPulseOptions {
  /** e.g. `http://127.0.0.1:8000`. */
  baseUrl: string;
  /** Sent as `Authorization: Bearer <apiKey>` (keys look like `gp_...`); not needed while auth is off. */
  apiKey?: string;
  /** Repeats of a request that is safe to repeat, after 429/502/503/504 or a lost connection (default 4). */
  maxRetries?: number;
  /** First backoff in seconds, doubled each time, never below `Retry-After` (default 0.5). */
  backoffS?: number;
  /** Another `fetch` (a proxy agent, a test double); the platform's by default. */
  fetch?: typeof fetch;
}

export interface SubmitOptions {
  /** Same key and body: the same task; another body: a 409. A fresh `sdk-<uuid>` by default. */
  idempotencyKey?: string;
  /** POSTed a signed message when the task ends (verify it with `verifyWebhook`). */
  webhookUrl?: string;
  priority?: Priority;
  /** Opaque data echoed back in the task. */
  metadata?: Record<string, unknown>;
  /** Seconds from now after which the task fails. */
  deadlineS?: number;
}

export interface ListOptions {
  status?: TaskStatus;
  provider?: string;
  /** Tasks per page, 1..200 (default 50). */
  limit?: number;
  /** Start at this page (a previous page's `next_cursor`). */
  cursor?: string;
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);
const MAX_CHUNK_S = 50;
const VERSION = "0.1.0";

/**
 * The GenPulse client: submit tasks, wait for them (the server holds the request), stream their events, download
 * their outputs. Errors are `GenPulseError`s. Submits and retries always carry an idempotency key, so the client
 * sends them again after a lost answer (as it does reads) without creating a second task.
 */
export class GenPulse {
  private readonly base: string;
  private readonly apiKey: string | undefined;
  private readonly maxRetries: number;
  private readonly backoffS: number;
  private readonly fetcher: typeof fetch;

  constructor(options: GenPulseOptions) {
    this.base = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey || undefined;
    this.maxRetries = options.maxRetries ?? 4;
    this.backoffS = options.backoffS ?? 0.5;
    this.fetcher = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /** Submit a task; answers at once (`queued`). `params` are typed by provider and task type. */
  async submit<P extends Provider, T extends TaskType<P>>(
    provider: P,
    taskType: T,
    params: Params<P, T>,
    options: SubmitOptions = {},
  ): Promise<Task> {
    return this.submitAny(provider, taskType, params, options);
  }

  private async submitAny(provider: string, taskType: string, params: unknown, options: SubmitOptions): Promise<Task> {
    const body: Record<string, unknown> = { provider, task_type: taskType, params, priority: options.priority ?? "normal" };
    if (options.webhookUrl !== undefined) body.webhook_url = options.webhookUrl;
    if (options.metadata !== undefined) body.metadata = options.metadata;
    if (options.deadlineS !== undefined) body.deadline_s = options.deadlineS;
    const headers = { "content-type": "application/json", "idempotency-key": options.idempotencyKey ?? (await newKey()) };
    return this.json<Task>("POST", "/v1/tasks", { headers, body: JSON.stringify(body), safe: true });
  }

  /** The task now. */
  async get(id: string): Promise<Task> {
    return this.json<Task>("GET", taskPath(id));
  }

  /**
   * The task once it has ended, waited for on the server (`?wait=`, 50 s per request at most). Rejects with
   * `wait_timeout` if it has not ended within `timeoutS` (default 600). A failed task resolves; `run` rejects.
   */
  async wait(id: string, options: { timeoutS?: number } = {}): Promise<Task> {
    const timeoutS = options.timeoutS ?? 600;
    const deadline = Date.now() + timeoutS * 1000;
    let pause = 0;
    for (;;) {
      const chunk = Math.max(0, Math.min((deadline - Date.now()) / 1000, MAX_CHUNK_S));
      const asked = Date.now();
      const task = await this.json<Task>("GET", `${taskPath(id)}?wait=${chunk.toFixed(3)}`, { timeoutS: chunk + 30 });
      if (TERMINAL.has(task.status)) return task;
      const held = (Date.now() - asked) / 1000;
      const remaining = (deadline - Date.now()) / 1000;
      if (remaining <= 0) {
        throw new GenPulseError(0, "wait_timeout", `task ${id} is still ${task.status} after ${timeoutS}s`);
      }
      if (held >= Math.min(chunk * 0.8, 1)) {
        pause = 0; // the server held the request: ask again at once
      } else {
        pause = Math.min(10, pause ? pause * 2 : 0.5); // a server or proxy that does not hold: poll with backoff
        await sleep(Math.min(pause, remaining));
      }
    }
  }

  /** Submit and wait; rejects with `TaskFailedError` unless the task succeeded. */
  async run<P extends Provider, T extends TaskType<P>>(
    provider: P,
    taskType: T,
    params: Params<P, T>,
    options: SubmitOptions & { timeoutS?: number } = {},
  ): Promise<Task> {
    const task = await this.submitAny(provider, taskType, params, options);
    const done = await this.wait(task.id, { timeoutS: options.timeoutS });
    if (done.status !== "succeeded") throw new TaskFailedError(done);
    return done;
  }

  /** Cancel a queued or running task; a 409 `conflict` if it has already ended. */
  async cancel(id: string): Promise<Task> {
    return this.json<Task>("POST", `${taskPath(id)}/cancel`, { safe: false });
  }

  /** Re-run a failed or canceled task as a new task (`retry_of` set); the same key gives back the same retry. */
  async retry(id: string, options: { idempotencyKey?: string } = {}): Promise<Task> {
    const headers = { "idempotency-key": options.idempotencyKey ?? (await newKey()) };
    return this.json<Task>("POST", `${taskPath(id)}/retry`, { headers, safe: true });
  }

  /** Pages of tasks, newest first, fetched as you iterate: `for await (const page of gp.list()) ...`. */
  async *list(options: ListOptions = {}): AsyncGenerator<TaskPage> {
    let cursor = options.cursor;
    do {
      const query = new URLSearchParams();
      if (options.status) query.set("status", options.status);
      if (options.provider) query.set("provider", options.provider);
      query.set("limit", String(options.limit ?? 50));
      if (cursor) query.set("cursor", cursor);
      const page = await this.json<TaskPage>("GET", `/v1/tasks?${query}`);
      yield page;
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
  }

  /**
   * The task's Server-Sent Events until the terminal one (which carries the finished task). A dropped connection
   * is resumed with `Last-Event-ID`; `lastEventId` starts after an earlier event's `seq`. `break` to stop early.
   */
  async *events(id: string, options: { lastEventId?: string | number } = {}): AsyncGenerator<TaskEvent> {
    const decoder = new SseDecoder();
    let resume = options.lastEventId === undefined ? undefined : String(options.lastEventId);
    for (let reconnects = 0; ; ) {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (resume !== undefined) headers["last-event-id"] = resume;
      const response = await this.send("GET", `${taskPath(id)}/events`, { headers, timeoutS: null });
      if (!response.body) throw new GenPulseError(response.status, "malformed_reply", "an event stream without a body");
      try {
        for await (const line of lines(response.body)) {
          const event = decoder.feed(line);
          if (decoder.lastId !== null) resume = decoder.lastId;
          if (event === null) continue;
          reconnects = 0;
          yield event;
          if (event.task) return;
        }
      } catch (err) {
        if (err instanceof SyntaxError) throw new GenPulseError(0, "malformed_reply", `bad event JSON: ${err.message}`);
        // the connection broke: resume below
      }
      if (++reconnects > this.maxRetries) {
        throw new GenPulseError(0, "unreachable", `the event stream of ${id} keeps ending before the task does`);
      }
      await sleep(this.backoffS);
    }
  }

  /** Upload a file (bytes, a `Blob`/`File`, or, on Node/Deno/Bun, a path); the server sniffs its type. */
  async upload(file: Blob | Uint8Array | string, filename?: string): Promise<Asset> {
    let blob: Blob;
    let name = filename;
    if (typeof file === "string") {
      const { readFile } = await import("node:fs/promises");
      const { basename } = await import("node:path");
      blob = new Blob([new Uint8Array(await readFile(file))]);
      name ??= basename(file);
    } else if (file instanceof Uint8Array) {
      blob = new Blob([file.slice()]);
    } else {
      blob = file;
      name ??= (file as Partial<File>).name;
    }
    const form = new FormData();
    form.append("file", blob, name ?? "upload");
    return this.json<Asset>("POST", "/v1/assets", { body: form, safe: true });
  }

  /** An asset's metadata. */
  async asset(assetId: string): Promise<Asset> {
    return this.json<Asset>("GET", `/v1/assets/${encodeURIComponent(assetId)}`);
  }

  /** An asset's bytes; a redirect to a presigned URL (S3 storage) is followed without the API key. */
  async download(assetId: string): Promise<Uint8Array> {
    const path = `/v1/assets/${encodeURIComponent(assetId)}/content`;
    let response = await this.send("GET", path, { redirect: "manual", timeoutS: 300 });
    if (response.type === "opaqueredirect") {
      // a browser hides the Location: let it follow (it drops Authorization on a cross-origin redirect)
      response = await this.send("GET", path, { redirect: "follow", timeoutS: 300 });
    } else if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get("location");
      if (!location) throw new GenPulseError(response.status, "malformed_reply", "a redirect without Location");
      response = await this.fetcher(new URL(location, `${this.base}${path}`), { signal: AbortSignal.timeout(300_000) });
      if (!response.ok) throw await errorOf(response);
    }
    return new Uint8Array(await response.arrayBuffer());
  }

  private async json<T>(method: string, path: string, init: SendInit = {}): Promise<T> {
    const response = await this.send(method, path, init);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new GenPulseError(response.status, "malformed_reply", `not JSON: ${text.slice(0, 200)}`);
    }
  }

  /** Send, retrying as the policy allows; an answer >= 400 becomes a `GenPulseError`. */
  private async send(method: string, path: string, init: SendInit = {}): Promise<Response> {
    const safe = init.safe ?? method === "GET";
    const headers: Record<string, string> = { accept: "application/json", ...init.headers };
    if (this.apiKey) headers.authorization = `Bearer ${this.apiKey}`;
    const timeoutS = init.timeoutS === undefined ? 60 : init.timeoutS;
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetcher(`${this.base}${path}`, {
          method,
          headers,
          body: init.body,
          redirect: init.redirect ?? "follow",
          signal: timeoutS === null ? undefined : AbortSignal.timeout(timeoutS * 1000),
        });
      } catch (err) {
        const refused = isConnectError(err);
        if (attempt < this.maxRetries && (safe || refused)) {
          await sleep(this.delay(attempt, null));
          continue;
        }
        throw new GenPulseError(0, "unreachable", `GenPulse server unreachable: ${describe(err)}`, null, null, { cause: err });
      }
      if (response.status < 400) return response;
      const error = await errorOf(response);
      if (safe && attempt < this.maxRetries && RETRY_STATUS.has(response.status)) {
        await sleep(this.delay(attempt, error.retryAfter));
        continue;
      }
      throw error;
    }
  }

  private delay(attempt: number, retryAfter: number | null): number {
    const wait = Math.random() * Math.min(30, this.backoffS * 2 ** attempt);
    return Math.max(wait, Math.min(retryAfter ?? 0, 30));
  }
}

interface SendInit {
  headers?: Record<string, string>;
  body?: string | FormData;
  /** Safe to send again (reads; submits and retries with their idempotency key). Default: GET only. */
  safe?: boolean;
  /** Seconds; null for none (event streams). Default 60. */
  timeoutS?: number | null;
  redirect?: RequestRedirect;
}

function taskPath(id: string): string {
  return `/v1/tasks/${encodeURIComponent(id)}`;
}

async function newKey(): Promise<string> {
  return `sdk-${(await webCrypto()).randomUUID()}`;
}

function sleep(seconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, seconds * 1000));
}

function isConnectError(err: unknown): boolean {
  const code = (err as { cause?: { code?: string } })?.cause?.code;
  return code === "ECONNREFUSED" || code === "UND_ERR_CONNECT_TIMEOUT";
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return [err instanceof Error ? err.message : String(err), cause?.code ?? cause?.message].filter(Boolean).join(": ");
}

export { VERSION };

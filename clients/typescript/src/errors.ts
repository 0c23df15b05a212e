import type { Task } from "./types.js";

/**
 * Every error the client throws: an error answer of the server, a transport failure, a wait that ran out, a bad
 * webhook signature. `status` is the HTTP status (0 when there was no answer); `type` is GenPulse's error type
 * (`invalid_request`, `not_found`, `conflict`, `service_unavailable`, ... and, from the client itself,
 * `unreachable`, `wait_timeout`, `invalid_signature`): branch on `type`, not on the message.
 */
export class GenPulseError extends Error {
  override readonly name: string = "GenPulseError";

  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly details: unknown = null,
    /** The server's `Retry-After` in seconds (429, 503). */
    readonly retryAfter: number | null = null,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Thrown by `run` for a task that ended failed or canceled; `type` is the task's own error type. */
export class TaskFailedError extends GenPulseError {
  override readonly name: string = "TaskFailedError";

  constructor(readonly task: Task) {
    const reason = task.error ? `${task.error.type}: ${task.error.message}` : task.status;
    super(0, task.error?.type ?? task.status, `task ${task.id} ${task.status}: ${reason}`);
  }
}

/** The error of an HTTP answer with status >= 400 (our `{"error": {...}}` body, or a proxy's page). */
export async function errorOf(response: Response): Promise<GenPulseError> {
  const text = await response.text().catch(() => "");
  const hinted = Number(response.headers.get("retry-after") ?? "");
  const retryAfter = response.headers.has("retry-after") && Number.isFinite(hinted) ? hinted : null;
  try {
    const err = (JSON.parse(text) as { error?: { type?: unknown; message?: unknown; details?: unknown } }).error;
    if (err && typeof err.type === "string") {
      return new GenPulseError(response.status, err.type, String(err.message ?? ""), err.details ?? null, retryAfter);
    }
  } catch {
    // not our error body: described below
  }
  return new GenPulseError(response.status, "http_error", `HTTP ${response.status}: ${text.slice(0, 200)}`, null, retryAfter);
}

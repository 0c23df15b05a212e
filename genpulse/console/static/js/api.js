// The API from the browser: the key (sessionStorage only), JSON requests, media as blob URLs, SSE over fetch.
const KEY = "genpulse.key";

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ""; },
  set key(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); },
};

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.type = error.type || "";
    this.details = error.details;
  }
}

function headers(extra = {}) {
  const out = { ...extra };
  if (session.key) out.Authorization = `Bearer ${session.key}`;
  return out;
}

export async function api(method, path, body) {
  const init = { method, headers: headers() };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { error: { message: text } }; }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path, query) => api("GET", query ? `${path}?${new URLSearchParams(query)}` : path);

const blobs = new Map();

/** A same-origin object URL for an asset's content (the key travels in a header, which <img src> cannot do). */
export async function mediaUrl(url) {
  if (!blobs.has(url)) {
    blobs.set(url, fetch(url, { headers: headers() }).then((r) => {
      if (!r.ok) throw new ApiError(r.status, null);
      return r.blob();
    }).then((blob) => URL.createObjectURL(blob)));
  }
  return blobs.get(url);
}

/**
 * Follow a Server-Sent Events stream with fetch (EventSource cannot send Authorization); reconnects after
 * `retry` ms with Last-Event-ID. `onEvent(kind, data, id)`; returning `false` stops following. Returns a
 * function that stops it.
 */
export function follow(path, onEvent) {
  const control = new AbortController();
  let lastId = "";
  let retry = 2000;
  async function run() {
    while (!control.signal.aborted) {
      try {
        const extra = lastId ? { "Last-Event-ID": lastId } : {};
        const response = await fetch(path, { headers: headers(extra), signal: control.signal });
        if (!response.ok) throw new ApiError(response.status, null);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const frame = {};
            for (const line of block.split("\n")) {
              const at = line.indexOf(":");
              if (at <= 0) continue;
              frame[line.slice(0, at)] = line.slice(at + 1).replace(/^ /, "");
            }
            if (frame.retry) retry = Number(frame.retry) || retry;
            if (frame.id) lastId = frame.id;
            if (frame.event && frame.data && onEvent(frame.event, JSON.parse(frame.data), frame.id) === false) {
              control.abort();
              return;
            }
          }
        }
      } catch (error) {
        if (control.signal.aborted) return;
        if (error instanceof ApiError && error.status < 500 && error.status !== 429) return;
      }
      await new Promise((resolve) => setTimeout(resolve, retry));
    }
  }
  run();
  return () => control.abort();
}

import type { TaskEvent } from "./types.js";

/** Turns `text/event-stream` lines into events; comments and `retry:` lines are dropped. */
export class SseDecoder {
  lastId: string | null = null;
  private id: string | null = null;
  private event: string | null = null;
  private data: string[] = [];

  /** One line, without its line ending; returns an event when a blank line completes one. */
  feed(line: string): TaskEvent | null {
    if (line === "") return this.dispatch();
    if (line.startsWith(":")) return null;
    const colon = line.indexOf(":");
    const name = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (name === "data") this.data.push(value);
    else if (name === "id") this.id = value;
    else if (name === "event") this.event = value;
    return null;
  }

  private dispatch(): TaskEvent | null {
    const { id, event, data } = this;
    this.id = this.event = null;
    this.data = [];
    if (id !== null) this.lastId = id;
    if (data.length === 0) return null;
    return { ...(JSON.parse(data.join("\n")) as Omit<TaskEvent, "event">), event: event ?? "status" };
  }
}

/** The lines of a byte stream (`\n`, `\r\n` or `\r` endings). */
export async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let match: RegExpExecArray | null;
      while ((match = /\r\n|\r|\n/.exec(buffer)) !== null) {
        if (match[0] === "\r" && match.index === buffer.length - 1) break; // maybe the first half of \r\n
        yield buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
      }
    }
    if (buffer) yield buffer;
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

package io.genpulse.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.util.ArrayList;
import java.util.List;

/** Turns {@code text/event-stream} lines into {@link TaskEvent}s; comments and {@code retry:} lines are dropped. */
final class SseDecoder {
    private String lastId;
    private String id;
    private String event;
    private final List<String> data = new ArrayList<>();

    /** Feed one line (without its newline); returns an event when a blank line completes one, else null. */
    TaskEvent feed(String line) {
        if (line.isEmpty()) {
            return dispatch();
        }
        if (line.startsWith(":")) {
            return null;
        }
        int colon = line.indexOf(':');
        String name = colon < 0 ? line : line.substring(0, colon);
        String value = colon < 0 ? "" : line.substring(colon + 1);
        if (value.startsWith(" ")) {
            value = value.substring(1);
        }
        switch (name) {
            case "data" -> data.add(value);
            case "id" -> id = value;
            case "event" -> event = value;
            default -> { }
        }
        return null;
    }

    /** The id of the last complete event: where a reconnect resumes. */
    String lastId() {
        return lastId;
    }

    private TaskEvent dispatch() {
        String name = event == null ? "status" : event;
        List<String> lines = List.copyOf(data);
        if (id != null) {
            lastId = id;
        }
        id = null;
        event = null;
        data.clear();
        if (lines.isEmpty()) {
            return null;
        }
        try {
            return Json.MAPPER.readValue(String.join("\n", lines), TaskEvent.class).withEvent(name);
        } catch (JsonProcessingException e) {
            throw new GenPulseException("malformed_reply", "an event stream sent invalid JSON: " + e.getMessage(), e);
        }
    }
}

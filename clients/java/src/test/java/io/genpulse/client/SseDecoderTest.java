package io.genpulse.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SseDecoderTest {
    @Test
    void decodesFramesAndSkipsCommentsAndRetry() {
        String wire = "retry: 2000\n\n: keep-alive\n\n"
                + "id: 3\nevent: progress\ndata: {\"seq\":3,\"task_id\":\"tsk_1\",\"status\":\"running\",\"progress\":50,\"at\":1}\n\n"
                + "id: 4\nevent: status\ndata: {\"seq\":4,\"task_id\":\"tsk_1\",\"status\":\"succeeded\",\"at\":2,"
                + "\"task\":{\"id\":\"tsk_1\",\"status\":\"succeeded\",\"result\":{\"assets\":[{\"id\":\"ast_1\","
                + "\"content_type\":\"image/png\",\"url\":\"/v1/assets/ast_1/content\",\"new_field\":1}]}}}\n\n";
        SseDecoder decoder = new SseDecoder();
        List<TaskEvent> events = new ArrayList<>();
        for (String line : wire.split("\n", -1)) {
            TaskEvent e = decoder.feed(line);
            if (e != null) {
                events.add(e);
            }
        }
        assertEquals(2, events.size());
        assertEquals("progress", events.get(0).getEvent());
        assertEquals(50.0, events.get(0).getProgress());
        assertNull(events.get(0).getTask());
        Task done = events.get(1).getTask();
        assertEquals("succeeded", done.getStatus());
        assertEquals("image/png", done.getAssets().get(0).getContentType());
        assertEquals("4", decoder.lastId());
    }
}

package io.genpulse.client;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The Standard Webhooks vector shared with the Python and TypeScript SDK tests (tests/vectors/webhook.json). */
class WebhooksTest {
    static JsonNode vector() throws IOException {
        String env = System.getenv("GENPULSE_WEBHOOK_VECTOR");
        Path path = env != null ? Path.of(env) : Path.of("..", "..", "tests", "vectors", "webhook.json");
        return new ObjectMapper().readTree(Files.readString(path));
    }

    static Map<String, String> headers(JsonNode node) {
        Map<String, String> out = new LinkedHashMap<>();
        node.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue().asText()));
        return out;
    }

    @Test
    void signsAndVerifiesTheSharedVector() throws IOException {
        JsonNode v = vector();
        String secret = v.get("secret").asText();
        byte[] body = v.get("body").asText().getBytes(StandardCharsets.UTF_8);
        long ts = v.get("timestamp").asLong();
        assertEquals(v.get("signature").asText(), Webhooks.sign(secret, v.get("msg_id").asText(), ts, body));
        Map<String, String> headers = headers(v.get("headers"));
        assertDoesNotThrow(() -> Webhooks.verify(secret, headers, body, 300, ts));
        Map<String, String> upper = new LinkedHashMap<>();
        headers.forEach((k, val) -> upper.put(k.toUpperCase(), val));
        assertDoesNotThrow(() -> Webhooks.verify(secret, upper, body, 300, ts + 299));
    }

    @Test
    void refusesEveryInvalidCaseOfTheVector() throws IOException {
        JsonNode v = vector();
        String secret = v.get("secret").asText();
        for (JsonNode bad : v.get("invalid")) {
            byte[] body = bad.get("body").asText().getBytes(StandardCharsets.UTF_8);
            GenPulseException e = assertThrows(GenPulseException.class,
                    () -> Webhooks.verify(secret, headers(bad.get("headers")), body, 300, bad.get("now").asLong()),
                    bad.get("why").asText());
            assertEquals("invalid_signature", e.getType());
        }
    }
}

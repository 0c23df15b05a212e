package io.genpulse.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The retry policy and headers, against a tiny JDK HTTP server on 127.0.0.1 (no GenPulse needed). */
class TransportTest {
    private HttpServer server;
    private final List<Map<String, String>> seen = new CopyOnWriteArrayList<>();
    private final AtomicInteger submits = new AtomicInteger();

    private static final String TASK = "{\"id\":\"tsk_1\",\"provider\":\"diffusers\",\"task_type\":\"text-to-image\","
            + "\"status\":\"queued\",\"params\":{},\"created_at\":1,\"tenant_id\":\"ten_x\"}";

    @BeforeEach
    void start() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/tasks", this::handle);
        server.start();
    }

    @AfterEach
    void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange ex) throws IOException {
        seen.add(Map.of(
                "method", ex.getRequestMethod(),
                "authorization", String.valueOf(ex.getRequestHeaders().getFirst("Authorization")),
                "key", String.valueOf(ex.getRequestHeaders().getFirst("Idempotency-Key"))));
        ex.getRequestBody().readAllBytes();
        if (ex.getRequestMethod().equals("POST") && submits.incrementAndGet() == 1) {
            ex.getResponseHeaders().add("Retry-After", "0");
            reply(ex, 503, "{\"error\":{\"type\":\"service_unavailable\",\"message\":\"busy\",\"details\":null}}");
        } else if (ex.getRequestURI().getPath().endsWith("/missing")) {
            reply(ex, 404, "{\"error\":{\"type\":\"not_found\",\"message\":\"no task\",\"details\":{\"id\":\"x\"}}}");
        } else {
            reply(ex, ex.getRequestMethod().equals("POST") ? 202 : 200, TASK);
        }
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().add("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        ex.getResponseBody().write(bytes);
        ex.close();
    }

    private String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    @Test
    void aSubmitAnswered503IsSentAgainWithTheSameIdempotencyKeyAndTheBearerKey() {
        GenPulse gp = new GenPulse(url(), "gp_test_key", 3, 0.01);
        Task task = gp.submit("diffusers", "text-to-image", Map.of("prompt", "x"));
        assertEquals("tsk_1", task.getId());
        assertEquals(2, seen.size());
        assertEquals(seen.get(0).get("key"), seen.get(1).get("key"));
        assertTrue(seen.get(0).get("key").startsWith("sdk-"));
        assertEquals("Bearer gp_test_key", seen.get(1).get("authorization"));
    }

    @Test
    void noKeyNoAuthorizationAndErrorsCarryStatusTypeAndDetails() {
        GenPulse gp = new GenPulse(url());
        GenPulseException e = assertThrows(GenPulseException.class, () -> gp.get("missing"));
        assertEquals(404, e.getStatus());
        assertEquals("not_found", e.getType());
        assertEquals("no task", e.getMessage());
        assertEquals(Map.of("id", "x"), e.getDetails());
        assertEquals("null", seen.get(0).get("authorization"));
    }

    @Test
    void anUnreachableServerIsOneExceptionType() {
        server.stop(0);
        GenPulse gp = new GenPulse(url(), null, 1, 0.01);
        GenPulseException e = assertThrows(GenPulseException.class, () -> gp.get("tsk_1"));
        assertEquals("unreachable", e.getType());
        assertEquals(0, e.getStatus());
    }
}

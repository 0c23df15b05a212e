package io.genpulse.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Against a real GenPulse (tiny model; "kling" pointed at a slow fake vendor): {@code tests/test_sdk_java.py}
 * starts one and runs {@code mvn -o test -Dgenpulse.url=...}; it fails if these tests were skipped.
 */
class LiveServerTest {
    private static final Map<String, Object> FOX =
            Map.of("prompt", "a red fox", "width", 64, "height", 64, "num_inference_steps", 2);
    private static final Map<String, Object> VIDEO = Map.of("prompt", "a fox", "duration", 5);
    private static GenPulse gp;

    @BeforeAll
    static void connect() {
        String url = System.getProperty("genpulse.url", "");
        Assumptions.assumeTrue(!url.isBlank() && !url.startsWith("${"), "set GENPULSE_URL to a running GenPulse");
        gp = new GenPulse(url);
    }

    @Test
    void runsATinyModelJobAndDownloadsThePng(@TempDir Path dir) throws Exception {
        Task task = gp.run("diffusers", "text-to-image", FOX);
        assertEquals("succeeded", task.getStatus());
        assertTrue(task.isTerminal());
        Asset asset = task.getAssets().get(0);
        assertEquals("image/png", asset.getContentType());
        assertTrue(asset.getUrl().endsWith("/content"));
        byte[] png = gp.download(asset.getId());
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(png, 4));
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(png));
        assertEquals(asset.getSha256(), sha);
        assertEquals(64, gp.asset(asset.getId()).getWidth());

        Path file = gp.download(asset.getId(), dir.resolve("fox.png"));
        Asset uploaded = gp.upload(file);
        assertEquals("image/png", uploaded.getContentType());
        assertArrayEquals(png, gp.download(uploaded.getId()));

        assertTrue(gp.list("succeeded", "diffusers", 200, null).getData().stream()
                .anyMatch(t -> t.getId().equals(task.getId())));
        assertTrue(gp.listAll(null, "diffusers").anyMatch(t -> t.getId().equals(task.getId())));
    }

    @Test
    void streamsEventsToTheEndAndResumes() {
        Task task = gp.submit(SubmitRequest.of("diffusers", "text-to-image", FOX)
                .priority("high").metadata(Map.of("suite", "java")));
        assertEquals("java", task.getMetadata().get("suite"));
        List<TaskEvent> events;
        try (Stream<TaskEvent> stream = gp.events(task.getId())) {
            events = stream.collect(Collectors.toList());
        }
        TaskEvent last = events.get(events.size() - 1);
        assertEquals("queued", events.get(0).getStatus());
        assertEquals("succeeded", last.getStatus());
        assertNotNull(last.getTask());
        assertEquals(1, last.getTask().getAssets().size());
        String before = Long.toString(events.get(events.size() - 2).getSeq());
        try (Stream<TaskEvent> resumed = gp.events(task.getId(), before)) {
            assertEquals(List.of(last.getSeq()), resumed.map(TaskEvent::getSeq).collect(Collectors.toList()));
        }
        List<String> heard = new java.util.ArrayList<>();
        Task done = gp.listen(task.getId(), e -> heard.add(e.getStatus()));
        assertEquals("succeeded", done.getStatus());
        assertEquals("succeeded", heard.get(heard.size() - 1));
    }

    @Test
    void cancelsALongVendorJobAndRetriesIt() {
        Task video = gp.submit("kling", "text-to-video", VIDEO);
        GenPulseException timeout =
                assertThrows(GenPulseException.class, () -> gp.waitFor(video.getId(), Duration.ofSeconds(1)));
        assertEquals("wait_timeout", timeout.getType());
        Task canceled = gp.cancel(video.getId());
        assertEquals("canceled", canceled.getStatus());
        assertEquals("canceled", gp.waitFor(video.getId(), Duration.ofSeconds(10)).getStatus());
        GenPulseException again = assertThrows(GenPulseException.class, () -> gp.cancel(video.getId()));
        assertEquals(409, again.getStatus());
        assertEquals("conflict", again.getType());

        Task rerun = gp.retry(video.getId(), "java-retry-" + video.getId());
        assertEquals(video.getId(), rerun.getRetryOf());
        assertEquals(rerun.getId(), gp.retry(video.getId(), "java-retry-" + video.getId()).getId());
        assertEquals("canceled", gp.cancel(rerun.getId()).getStatus());
    }

    @Test
    void serverErrorsAreGenPulseExceptionsWithStatusAndType() {
        GenPulseException missing =
                assertThrows(GenPulseException.class, () -> gp.get("tsk_000000000000000000000000"));
        assertEquals(404, missing.getStatus());
        assertEquals("not_found", missing.getType());

        GenPulseException bad = assertThrows(GenPulseException.class,
                () -> gp.submit("diffusers", "text-to-image", Map.of("prompt", "x", "width", 60)));
        assertEquals(422, bad.getStatus());
        assertEquals("invalid_request", bad.getType());
        assertTrue(String.valueOf(bad.getDetails()).contains("params.width"), String.valueOf(bad.getDetails()));

        TaskFailedException failed = assertThrows(TaskFailedException.class, () -> gp.run(
                SubmitRequest.of("diffusers", "text-to-image", FOX).deadlineSeconds(0.001), Duration.ofSeconds(30)));
        assertEquals("failed", failed.getTask().getStatus());
        assertEquals("provider_timeout", failed.getType());
    }

    @Test
    void anIdempotencyKeyGivesBackTheSameTask() {
        SubmitRequest request = SubmitRequest.of("diffusers", "text-to-image", FOX).idempotencyKey("java-once");
        Task first = gp.submit(request);
        assertEquals(first.getId(), gp.submit(request).getId());
        GenPulseException reused = assertThrows(GenPulseException.class, () -> gp.submit(
                SubmitRequest.of("diffusers", "text-to-image", Map.of("prompt", "other")).idempotencyKey("java-once")));
        assertEquals(409, reused.getStatus());
        assertNotEquals(first.getId(), gp.submit("diffusers", "text-to-image", FOX).getId());
    }

    @Test
    void anApiKeyIsAcceptedWhileAuthIsOff() {
        GenPulse keyed = new GenPulse(System.getProperty("genpulse.url"), "gp_unused_while_auth_is_off");
        assertEquals("not_found", assertThrows(GenPulseException.class,
                () -> keyed.get("tsk_000000000000000000000000")).getType());
        assertTrue(Files.exists(Path.of("pom.xml")));
    }
}

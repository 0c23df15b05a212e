package io.genpulse.client;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
import java.util.Spliterator;
import java.util.Spliterators;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The GenPulse client: submit tasks, wait for them (the server holds the request), stream their events, download
 * their outputs. Thread-safe; one instance per server is enough.
 *
 * <pre>{@code
 * GenPulse gp = new GenPulse("http://127.0.0.1:8000");            // or new GenPulse(url, "gp_...")
 * Task task = gp.run("diffusers", "text-to-image", Map.of("prompt", "a red fox", "width", 64, "height", 64));
 * Files.write(Path.of("fox.png"), gp.download(task.getAssets().get(0).getId()));
 * }</pre>
 *
 * <p>Errors are {@link GenPulseException}s. Answers 429, 502, 503 and 504 and lost connections are retried with
 * backoff (at least the server's {@code Retry-After}) for requests that are safe to repeat: reads, and submits and
 * retries, which always carry an idempotency key. Cancels are retried only when the connection was refused.
 */
public final class GenPulse implements AutoCloseable {
    static final String VERSION = "0.1.0";
    private static final Set<Integer> RETRY_STATUS = Set.of(429, 502, 503, 504);
    private static final double MAX_CHUNK_SECONDS = 50;
    private static final Duration DEFAULT_RUN_TIMEOUT = Duration.ofMinutes(10);

    private final URI base;
    private final String apiKey;
    private final HttpClient http;
    private final int maxRetries;
    private final double backoffSeconds;

    /** A client for the server at {@code baseUrl} without an API key (a loopback server with auth off). */
    public GenPulse(String baseUrl) {
        this(baseUrl, null);
    }

    /** A client that sends {@code Authorization: Bearer <apiKey>} (keys look like {@code gp_...}). */
    public GenPulse(String baseUrl, String apiKey) {
        this(baseUrl, apiKey, 4, 0.5);
    }

    /** With the retry policy: at most {@code maxRetries} repeats, backoff from {@code backoffSeconds}. */
    public GenPulse(String baseUrl, String apiKey, int maxRetries, double backoffSeconds) {
        String trimmed = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.base = URI.create(trimmed + "/");
        this.apiKey = apiKey == null || apiKey.isBlank() ? null : apiKey;
        this.maxRetries = maxRetries;
        this.backoffSeconds = backoffSeconds;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade: servers drop the body of an upgraded POST
                .connectTimeout(Duration.ofSeconds(10))
                .followRedirects(HttpClient.Redirect.NEVER) // a 307 to S3 is followed without our API key
                .build();
    }

    // ---- tasks ------------------------------------------------------------------------------------------------

    /** Submit a task; answers at once ({@code queued}). Safe to retry: it carries a fresh idempotency key. */
    public Task submit(String provider, String taskType, Map<String, Object> params) {
        return submit(SubmitRequest.of(provider, taskType, params));
    }

    /** Submit with options: idempotency key, webhook URL, priority, metadata, deadline. */
    public Task submit(SubmitRequest request) {
        HttpRequest.Builder req = request("v1/tasks", Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", request.getIdempotencyKey())
                .POST(HttpRequest.BodyPublishers.ofByteArray(json(request.body())));
        return read(send(req, true), Task.class);
    }

    /** The task now. */
    public Task get(String id) {
        return read(send(request(taskPath(id), Duration.ofSeconds(60)).GET(), true), Task.class);
    }

    /**
     * The task once it has ended, waited for on the server ({@code ?wait=}, one request per 50 s at most); throws
     * {@link GenPulseException} {@code wait_timeout} if it has not ended within {@code timeout}. A failed task is
     * returned, not thrown: check {@link Task#getStatus()} (or use {@link #run}).
     */
    public Task waitFor(String id, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        double pause = 0;
        while (true) {
            double remaining = (deadline - System.nanoTime()) / 1e9;
            double chunk = Math.max(0, Math.min(remaining, MAX_CHUNK_SECONDS));
            long asked = System.nanoTime();
            String path = taskPath(id) + "?wait=" + String.format(java.util.Locale.ROOT, "%.3f", chunk);
            Task task = read(send(request(path, Duration.ofMillis((long) (chunk * 1000) + 30_000)).GET(), true),
                    Task.class);
            if (task.isTerminal()) {
                return task;
            }
            double held = (System.nanoTime() - asked) / 1e9;
            remaining = (deadline - System.nanoTime()) / 1e9;
            if (remaining <= 0) {
                throw new GenPulseException(0, "wait_timeout",
                        "task " + id + " is still " + task.getStatus() + " after " + timeout, null, null);
            }
            if (held >= Math.min(chunk * 0.8, 1.0)) {
                pause = 0; // the server held the request: ask again at once
            } else { // a server (or proxy) that does not hold: poll with backoff
                pause = Math.min(10, pause == 0 ? 0.5 : pause * 2);
                sleep(Math.min(pause, remaining));
            }
        }
    }

    /** Submit and wait up to 10 minutes; throws {@link TaskFailedException} if the task failed or was canceled. */
    public Task run(String provider, String taskType, Map<String, Object> params) {
        return run(SubmitRequest.of(provider, taskType, params), DEFAULT_RUN_TIMEOUT);
    }

    /** Submit and wait up to {@code timeout}; throws {@link TaskFailedException} unless it succeeded. */
    public Task run(SubmitRequest request, Duration timeout) {
        Task done = waitFor(submit(request).getId(), timeout);
        if (!"succeeded".equals(done.getStatus())) {
            throw new TaskFailedException(done);
        }
        return done;
    }

    /** Cancel a queued or running task; a 409 {@code conflict} if it has already ended. */
    public Task cancel(String id) {
        HttpRequest.Builder req = request(taskPath(id) + "/cancel", Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.noBody());
        return read(send(req, false), Task.class);
    }

    /** Re-run a failed or canceled task as a new task ({@code retry_of} set). Safe to retry. */
    public Task retry(String id) {
        return retry(id, "sdk-" + UUID.randomUUID());
    }

    /** The same with your idempotency key: the same key gives back the retry it made first. */
    public Task retry(String id, String idempotencyKey) {
        HttpRequest.Builder req = request(taskPath(id) + "/retry", Duration.ofSeconds(60))
                .header("Idempotency-Key", idempotencyKey)
                .POST(HttpRequest.BodyPublishers.noBody());
        return read(send(req, true), Task.class);
    }

    /**
     * One page of tasks, newest first. {@code status} and {@code provider} filter (null: all); {@code limit} is
     * 1..200; {@code cursor} is the previous page's {@link TaskPage#getNextCursor()} (null: the first page).
     */
    public TaskPage list(String status, String provider, int limit, String cursor) {
        Map<String, String> query = new LinkedHashMap<>();
        query.put("status", status);
        query.put("provider", provider);
        query.put("limit", Integer.toString(limit));
        query.put("cursor", cursor);
        StringBuilder path = new StringBuilder("v1/tasks");
        char sep = '?';
        for (Map.Entry<String, String> e : query.entrySet()) {
            if (e.getValue() != null) {
                path.append(sep).append(e.getKey()).append('=').append(encode(e.getValue()));
                sep = '&';
            }
        }
        return read(send(request(path.toString(), Duration.ofSeconds(60)).GET(), true), TaskPage.class);
    }

    /** Every matching task, newest first, fetched a page (of 100) at a time as the stream is consumed. */
    public Stream<Task> listAll(String status, String provider) {
        Iterator<Task> it = new Iterator<>() {
            private Iterator<Task> page;
            private String cursor;
            private boolean last;

            {
                TaskPage first = list(status, provider, 100, null);
                page = first.getData().iterator();
                cursor = first.getNextCursor();
                last = cursor == null;
            }

            @Override
            public boolean hasNext() {
                while (!page.hasNext() && !last) {
                    TaskPage next = list(status, provider, 100, cursor);
                    page = next.getData().iterator();
                    cursor = next.getNextCursor();
                    last = cursor == null;
                }
                return page.hasNext();
            }

            @Override
            public Task next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return page.next();
            }
        };
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED), false);
    }

    // ---- events -----------------------------------------------------------------------------------------------

    /**
     * The task's Server-Sent Events, from the first, until the terminal one (which carries the finished task).
     * A dropped connection is resumed with {@code Last-Event-ID}. Close the stream to stop early.
     */
    public Stream<TaskEvent> events(String id) {
        return events(id, (String) null);
    }

    /** The events after {@code lastEventId} (an earlier event's {@link TaskEvent#getSeq()}; null: all). */
    public Stream<TaskEvent> events(String id, String lastEventId) {
        EventIterator it = new EventIterator(id, lastEventId);
        return StreamSupport.stream(Spliterators.spliteratorUnknownSize(it, Spliterator.ORDERED), false)
                .onClose(it::close);
    }

    /** Calls {@code listener} with each event until the task ends; returns the finished task. */
    public Task listen(String id, Consumer<TaskEvent> listener) {
        try (Stream<TaskEvent> stream = events(id)) {
            Task[] last = new Task[1];
            stream.forEach(e -> {
                listener.accept(e);
                if (e.getTask() != null) {
                    last[0] = e.getTask();
                }
            });
            return last[0] != null ? last[0] : get(id);
        }
    }

    private final class EventIterator implements Iterator<TaskEvent>, AutoCloseable {
        private final String id;
        private final SseDecoder decoder = new SseDecoder();
        private String resumeFrom;
        private Iterator<String> lines;
        private Stream<String> open;
        private TaskEvent next;
        private boolean done;
        private int reconnects;

        EventIterator(String id, String lastEventId) {
            this.id = id;
            this.resumeFrom = lastEventId;
        }

        @Override
        public boolean hasNext() {
            while (next == null && !done) {
                if (lines == null) {
                    connect();
                }
                String line;
                try {
                    line = lines.hasNext() ? lines.next() : null;
                } catch (UncheckedIOException e) {
                    line = null;
                }
                if (line == null) { // the connection ended before the terminal event: resume
                    close();
                    if (++reconnects > maxRetries) {
                        throw new GenPulseException("unreachable", "event stream of " + id + " keeps ending", null);
                    }
                    sleep(backoffSeconds);
                    continue;
                }
                TaskEvent event = decoder.feed(line);
                if (decoder.lastId() != null) {
                    resumeFrom = decoder.lastId();
                }
                if (event != null) {
                    next = event;
                    reconnects = 0;
                    if (event.getTask() != null) {
                        done = true;
                    }
                }
            }
            if (next == null) {
                close();
            }
            return next != null;
        }

        @Override
        public TaskEvent next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            TaskEvent event = next;
            next = null;
            if (done) {
                close();
            }
            return event;
        }

        private void connect() {
            HttpRequest.Builder req = request(taskPath(id) + "/events", null).header("Accept", "text/event-stream");
            if (resumeFrom != null) {
                req.header("Last-Event-ID", resumeFrom);
            }
            HttpResponse<Stream<String>> response = sendWith(req, HttpResponse.BodyHandlers.ofLines(), true);
            open = response.body();
            lines = open.iterator();
        }

        @Override
        public void close() {
            if (open != null) {
                open.close();
            }
            open = null;
            lines = null;
        }
    }

    // ---- assets -----------------------------------------------------------------------------------------------

    /** Upload a file (an input image for image-to-video, say); the server sniffs its type from the bytes. */
    public Asset upload(Path file) {
        try {
            return upload(Files.readAllBytes(file), file.getFileName().toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Upload bytes under a file name. */
    public Asset upload(byte[] content, String filename) {
        String boundary = "genpulse-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\""
                + filename.replace("\"", "") + "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
        body.writeBytes(head.getBytes(StandardCharsets.UTF_8));
        body.writeBytes(content);
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder req = request("v1/assets", Duration.ofSeconds(120))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()));
        return read(send(req, true), Asset.class);
    }

    /** An asset's metadata. */
    public Asset asset(String assetId) {
        return read(send(request("v1/assets/" + encode(assetId), Duration.ofSeconds(60)).GET(), true), Asset.class);
    }

    /** An asset's bytes; a redirect to a presigned URL (S3 storage) is followed, without the API key. */
    public byte[] download(String assetId) {
        String path = "v1/assets/" + encode(assetId) + "/content";
        HttpResponse<byte[]> response = send(request(path, Duration.ofMinutes(5)).GET(), true);
        int status = response.statusCode();
        if (status >= 300 && status < 400) {
            String location = response.headers().firstValue("Location")
                    .orElseThrow(() -> new GenPulseException(status, "malformed_reply", "redirect without Location",
                            null, null));
            URI target = response.uri().resolve(location);
            HttpRequest.Builder plain = HttpRequest.newBuilder(target).timeout(Duration.ofMinutes(5)).GET();
            response = sendWith(plain, HttpResponse.BodyHandlers.ofByteArray(), true);
        }
        return response.body();
    }

    /** Download an asset into {@code file}; returns the file. */
    public Path download(String assetId, Path file) {
        try {
            return Files.write(file, download(assetId));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        // java.net.http.HttpClient has no close() before Java 21; its threads end with it.
    }

    // ---- transport --------------------------------------------------------------------------------------------

    private HttpRequest.Builder request(String path, Duration timeout) {
        HttpRequest.Builder req = HttpRequest.newBuilder(base.resolve(path))
                .header("Accept", "application/json")
                .header("User-Agent", "genpulse-java/" + VERSION);
        if (timeout != null) {
            req.timeout(timeout);
        }
        if (apiKey != null) {
            req.header("Authorization", "Bearer " + apiKey);
        }
        return req;
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder req, boolean safe) {
        return sendWith(req, HttpResponse.BodyHandlers.ofByteArray(), safe);
    }

    /** Send, retrying as the policy allows; an error answer becomes a {@link GenPulseException}. */
    private <T> HttpResponse<T> sendWith(HttpRequest.Builder req, HttpResponse.BodyHandler<T> handler, boolean safe) {
        HttpRequest built = req.build();
        for (int attempt = 0; ; attempt++) {
            HttpResponse<T> response;
            try {
                response = http.send(built, rawOnError(handler));
            } catch (IOException e) {
                boolean connect = e instanceof ConnectException || e instanceof HttpConnectTimeoutException;
                if (attempt < maxRetries && (safe || connect)) {
                    sleep(backoff(attempt, null));
                    continue;
                }
                throw new GenPulseException("unreachable",
                        "GenPulse server unreachable: " + e.getClass().getSimpleName() + ": " + e.getMessage(), e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new GenPulseException("interrupted", "interrupted while calling GenPulse", e);
            }
            int status = response.statusCode();
            if (status < 400) {
                return response;
            }
            GenPulseException error = error(response);
            if (safe && attempt < maxRetries && RETRY_STATUS.contains(status)) {
                sleep(backoff(attempt, error.getRetryAfterSeconds()));
                continue;
            }
            throw error;
        }
    }

    /** The handler for 2xx/3xx; an error answer's body is read as bytes whatever the handler (for its JSON). */
    @SuppressWarnings("unchecked")
    private static <T> HttpResponse.BodyHandler<T> rawOnError(HttpResponse.BodyHandler<T> handler) {
        return info -> info.statusCode() >= 400
                ? (HttpResponse.BodySubscriber<T>) HttpResponse.BodySubscribers.ofByteArray()
                : handler.apply(info);
    }

    private static GenPulseException error(HttpResponse<?> response) {
        int status = response.statusCode();
        Double retryAfter = response.headers().firstValue("Retry-After").map(v -> {
            try {
                return Double.valueOf(v.trim());
            } catch (NumberFormatException e) {
                return null;
            }
        }).orElse(null);
        byte[] raw = response.body() instanceof byte[] bytes ? bytes : new byte[0];
        try {
            JsonNode err = Json.MAPPER.readTree(raw).path("error");
            if (err.isObject() && err.hasNonNull("type")) {
                Object details = err.hasNonNull("details")
                        ? Json.MAPPER.convertValue(err.get("details"), new TypeReference<Object>() {})
                        : null;
                return new GenPulseException(status, err.get("type").asText(), err.path("message").asText(), details,
                        retryAfter);
            }
        } catch (IOException | RuntimeException e) {
            // not our error body (a proxy's page): described below
        }
        String text = new String(raw, StandardCharsets.UTF_8);
        return new GenPulseException(status, "http_error",
                "HTTP " + status + ": " + text.substring(0, Math.min(200, text.length())), null, retryAfter);
    }

    private double backoff(int attempt, Double retryAfter) {
        double wait = ThreadLocalRandom.current().nextDouble(0, Math.min(30, backoffSeconds * Math.pow(2, attempt)));
        return Math.max(wait, Math.min(retryAfter == null ? 0 : retryAfter, 30));
    }

    private static <T> T read(HttpResponse<byte[]> response, Class<T> type) {
        try {
            return Json.MAPPER.readValue(response.body(), type);
        } catch (IOException e) {
            throw new GenPulseException("malformed_reply", "GenPulse answered something that is not a "
                    + type.getSimpleName() + ": " + e.getMessage(), e);
        }
    }

    private static byte[] json(Object value) {
        try {
            return Json.MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("params are not JSON-serializable: " + e.getMessage(), e);
        }
    }

    private static String taskPath(String id) {
        return "v1/tasks/" + encode(id);
    }

    private static String encode(String value) {
        return URLEncoder.encode(value, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static void sleep(double seconds) {
        try {
            Thread.sleep((long) (seconds * 1000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GenPulseException("interrupted", "interrupted while waiting", e);
        }
    }
}

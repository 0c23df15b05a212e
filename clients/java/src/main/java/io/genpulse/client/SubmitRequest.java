package io.genpulse.client;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;

/**
 * The body of a submit, built fluently:
 *
 * <pre>{@code
 * SubmitRequest.of("diffusers", "text-to-image", Map.of("prompt", "a red fox"))
 *     .priority("high").webhookUrl("https://example.com/hook").metadata(Map.of("user", "42"));
 * }</pre>
 *
 * Every request has an idempotency key (a fresh {@code sdk-<uuid>} unless you set your own), so the client may
 * send it again after a lost answer without creating a second task; reuse a key to find the same task later.
 */
public final class SubmitRequest {
    private final String provider;
    private final String taskType;
    private final Map<String, Object> params;
    private String idempotencyKey = "sdk-" + UUID.randomUUID();
    private String webhookUrl;
    private String priority = "normal";
    private Map<String, Object> metadata = Map.of();
    private Double deadlineSeconds;

    private SubmitRequest(String provider, String taskType, Map<String, Object> params) {
        this.provider = Objects.requireNonNull(provider, "provider");
        this.taskType = Objects.requireNonNull(taskType, "taskType");
        this.params = params == null ? Map.of() : Map.copyOf(params);
    }

    public static SubmitRequest of(String provider, String taskType, Map<String, Object> params) {
        return new SubmitRequest(provider, taskType, params);
    }

    /** Same key and body: the same task (answered 200); same key, another body: a 409 {@code conflict}. */
    public SubmitRequest idempotencyKey(String key) {
        this.idempotencyKey = Objects.requireNonNull(key, "idempotencyKey");
        return this;
    }

    /** POSTed a signed message when the task ends; verify it with {@link Webhooks#verify}. */
    public SubmitRequest webhookUrl(String url) {
        this.webhookUrl = url;
        return this;
    }

    /** {@code high}, {@code normal} (default) or {@code low}: queue order at the provider's rate limiter. */
    public SubmitRequest priority(String priority) {
        this.priority = Objects.requireNonNull(priority, "priority");
        return this;
    }

    /** Opaque data echoed back in the task. */
    public SubmitRequest metadata(Map<String, Object> metadata) {
        this.metadata = metadata == null ? Map.of() : Map.copyOf(metadata);
        return this;
    }

    /** Seconds from now after which the task fails with {@code provider_timeout}. */
    public SubmitRequest deadlineSeconds(double seconds) {
        this.deadlineSeconds = seconds;
        return this;
    }

    public String getIdempotencyKey() {
        return idempotencyKey;
    }

    Map<String, Object> body() {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("provider", provider);
        body.put("task_type", taskType);
        body.put("params", params);
        body.put("priority", priority);
        if (webhookUrl != null) {
            body.put("webhook_url", webhookUrl);
        }
        if (!metadata.isEmpty()) {
            body.put("metadata", metadata);
        }
        if (deadlineSeconds != null) {
            body.put("deadline_s", deadlineSeconds);
        }
        return body;
    }
}

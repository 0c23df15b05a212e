package io.genpulse.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A task as the server returns it. {@link #getStatus()} is {@code queued}, {@code running}, {@code succeeded},
 * {@code failed} or {@code canceled}; the last three are terminal. Fields the client does not know yet are
 * ignored, so a newer server works with an older client.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Task {
    private static final Set<String> TERMINAL = Set.of("succeeded", "failed", "canceled");
    private static final ObjectMapper ASSETS = Json.MAPPER;

    @JsonProperty("id") private String id;
    @JsonProperty("provider") private String provider;
    @JsonProperty("task_type") private String taskType;
    @JsonProperty("status") private String status;
    @JsonProperty("progress") private Double progress;
    @JsonProperty("params") private Map<String, Object> params;
    @JsonProperty("result") private Map<String, Object> result;
    @JsonProperty("error") private TaskError error;
    @JsonProperty("attempts") private int attempts;
    @JsonProperty("provider_task_id") private String providerTaskId;
    @JsonProperty("priority") private String priority;
    @JsonProperty("webhook_url") private String webhookUrl;
    @JsonProperty("metadata") private Map<String, Object> metadata;
    @JsonProperty("created_at") private double createdAt;
    @JsonProperty("started_at") private Double startedAt;
    @JsonProperty("finished_at") private Double finishedAt;
    @JsonProperty("deadline_at") private Double deadlineAt;
    @JsonProperty("retry_of") private String retryOf;

    /** The task id, {@code tsk_...}. */
    public String getId() {
        return id;
    }

    public String getProvider() {
        return provider;
    }

    public String getTaskType() {
        return taskType;
    }

    public String getStatus() {
        return status;
    }

    /** Whether the task has ended: succeeded, failed or canceled. */
    public boolean isTerminal() {
        return TERMINAL.contains(status);
    }

    /** 0-100 when the runner reports it, else null. */
    public Double getProgress() {
        return progress;
    }

    /** The params as the provider validated them (defaults filled in). */
    public Map<String, Object> getParams() {
        return params == null ? Map.of() : Collections.unmodifiableMap(params);
    }

    /** {@code {"assets": [...], ...}} on success; null before. */
    public Map<String, Object> getResult() {
        return result;
    }

    /** The result's assets (images, videos), in order; empty until the task succeeded. */
    public List<Asset> getAssets() {
        if (result == null || !(result.get("assets") instanceof List<?> raw)) {
            return List.of();
        }
        return raw.stream().map(a -> ASSETS.convertValue(a, Asset.class)).toList();
    }

    /** Why the task failed (or was canceled); null otherwise. */
    public TaskError getError() {
        return error;
    }

    public int getAttempts() {
        return attempts;
    }

    public String getProviderTaskId() {
        return providerTaskId;
    }

    public String getPriority() {
        return priority;
    }

    public String getWebhookUrl() {
        return webhookUrl;
    }

    public Map<String, Object> getMetadata() {
        return metadata == null ? Map.of() : Collections.unmodifiableMap(metadata);
    }

    /** Unix seconds. */
    public double getCreatedAt() {
        return createdAt;
    }

    public Double getStartedAt() {
        return startedAt;
    }

    public Double getFinishedAt() {
        return finishedAt;
    }

    public Double getDeadlineAt() {
        return deadlineAt;
    }

    /** The failed task this one re-runs ({@link GenPulse#retry}), or null. */
    public String getRetryOf() {
        return retryOf;
    }

    @Override
    public String toString() {
        return "Task[" + id + " " + provider + "/" + taskType + " " + status + "]";
    }
}

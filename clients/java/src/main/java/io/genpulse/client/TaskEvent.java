package io.genpulse.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * One Server-Sent Event of a task: {@link #getEvent()} is {@code status} or {@code progress}; {@link #getSeq()}
 * is its id (resume after it with {@code Last-Event-ID}); the terminal event carries the finished
 * {@link #getTask()}.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class TaskEvent {
    @JsonProperty("seq") private long seq;
    @JsonProperty("task_id") private String taskId;
    @JsonProperty("status") private String status;
    @JsonProperty("progress") private Double progress;
    @JsonProperty("at") private double at;
    @JsonProperty("task") private Task task;
    private String event = "status";

    TaskEvent withEvent(String name) {
        this.event = name;
        return this;
    }

    public String getEvent() {
        return event;
    }

    public long getSeq() {
        return seq;
    }

    public String getTaskId() {
        return taskId;
    }

    public String getStatus() {
        return status;
    }

    public Double getProgress() {
        return progress;
    }

    /** Unix seconds. */
    public double getAt() {
        return at;
    }

    /** The finished task, on the terminal event only. */
    public Task getTask() {
        return task;
    }

    @Override
    public String toString() {
        return "TaskEvent[" + seq + " " + event + " " + status + "]";
    }
}

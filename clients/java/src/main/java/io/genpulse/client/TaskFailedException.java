package io.genpulse.client;

/**
 * Thrown by {@link GenPulse#run} for a task that ended {@code failed} or {@code canceled}. {@link #getType()} is
 * the task's own error type (e.g. {@code provider_timeout}, or {@code canceled}); {@link #getTask()} is the
 * finished task.
 */
public final class TaskFailedException extends GenPulseException {
    private static final long serialVersionUID = 1L;

    private final transient Task task;

    public TaskFailedException(Task task) {
        super(0, task.getError() != null ? task.getError().getType() : task.getStatus(), describe(task), null, null);
        this.task = task;
    }

    public Task getTask() {
        return task;
    }

    private static String describe(Task task) {
        TaskError error = task.getError();
        String reason = error != null ? error.getType() + ": " + error.getMessage() : task.getStatus();
        return "task " + task.getId() + " " + task.getStatus() + ": " + reason;
    }
}

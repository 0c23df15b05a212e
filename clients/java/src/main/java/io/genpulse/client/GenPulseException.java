package io.genpulse.client;

/**
 * Every error the client raises: an error answer of the server, a transport failure, a failed task, a bad
 * webhook signature.
 *
 * <p>{@link #getStatus()} is the HTTP status (0 when there was no answer); {@link #getType()} is GenPulse's
 * machine-readable error type ({@code invalid_request}, {@code not_found}, {@code conflict},
 * {@code service_unavailable}, ... and {@code unreachable}, {@code task_failed}, {@code invalid_signature} from
 * the client itself): branch on the type, not on the message. {@link #getDetails()} is the server's
 * {@code details} (for {@code invalid_request}: one entry per bad field), or null.
 */
public class GenPulseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final int status;
    private final String type;
    private final transient Object details;
    private final Double retryAfterSeconds;

    public GenPulseException(int status, String type, String message, Object details, Double retryAfterSeconds) {
        super(message);
        this.status = status;
        this.type = type;
        this.details = details;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public GenPulseException(String type, String message, Throwable cause) {
        super(message, cause);
        this.status = 0;
        this.type = type;
        this.details = null;
        this.retryAfterSeconds = null;
    }

    /** The HTTP status of the answer, or 0 when there was none (unreachable server, failed task, webhook). */
    public int getStatus() {
        return status;
    }

    /** GenPulse's error type, e.g. {@code not_found}; see {@code genpulse/core/errors.py}. */
    public String getType() {
        return type;
    }

    /** The server's {@code details} (a list or a map from JSON), or null. */
    public Object getDetails() {
        return details;
    }

    /** The server's {@code Retry-After} in seconds (429, 503), or null. */
    public Double getRetryAfterSeconds() {
        return retryAfterSeconds;
    }

    @Override
    public String toString() {
        return "GenPulseException[" + status + " " + type + "]: " + getMessage();
    }
}

package io.genpulse.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** Why a task failed: a type of GenPulse's error tree, a message, and whether running it again may help. */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class TaskError {
    @JsonProperty("type") private String type;
    @JsonProperty("message") private String message;
    @JsonProperty("retryable") private boolean retryable;
    @JsonProperty("provider_code") private String providerCode;

    public String getType() {
        return type;
    }

    public String getMessage() {
        return message;
    }

    public boolean isRetryable() {
        return retryable;
    }

    /** The vendor's own error code, when there is one. */
    public String getProviderCode() {
        return providerCode;
    }

    @Override
    public String toString() {
        return type + ": " + message;
    }
}

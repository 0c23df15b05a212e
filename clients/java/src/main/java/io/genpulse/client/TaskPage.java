package io.genpulse.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/** One page of {@link GenPulse#list}: tasks newest first, and the cursor of the next page (null on the last). */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class TaskPage {
    @JsonProperty("data") private List<Task> data;
    @JsonProperty("next_cursor") private String nextCursor;

    public List<Task> getData() {
        return data == null ? List.of() : List.copyOf(data);
    }

    public String getNextCursor() {
        return nextCursor;
    }
}

package io.genpulse.client;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/** A stored output or upload; download its bytes with {@link GenPulse#download(String)}. */
@JsonIgnoreProperties(ignoreUnknown = true)
public final class Asset {
    @JsonProperty("id") private String id;
    @JsonProperty("content_type") private String contentType;
    @JsonProperty("bytes") private long bytes;
    @JsonProperty("sha256") private String sha256;
    @JsonProperty("url") private String url;
    @JsonProperty("width") private Integer width;
    @JsonProperty("height") private Integer height;
    @JsonProperty("created_at") private double createdAt;

    /** The asset id, {@code ast_...}. */
    public String getId() {
        return id;
    }

    /** The MIME type, e.g. {@code image/png}. */
    public String getContentType() {
        return contentType;
    }

    /** Where the server serves the content (relative to the base URL). */
    public String getUrl() {
        return url;
    }

    public long getBytes() {
        return bytes;
    }

    /** Hex SHA-256 of the content. */
    public String getSha256() {
        return sha256;
    }

    /** Pixel width, for images; null otherwise. */
    public Integer getWidth() {
        return width;
    }

    public Integer getHeight() {
        return height;
    }

    /** Unix seconds. */
    public double getCreatedAt() {
        return createdAt;
    }

    @Override
    public String toString() {
        return "Asset[" + id + " " + contentType + " " + bytes + " bytes]";
    }
}

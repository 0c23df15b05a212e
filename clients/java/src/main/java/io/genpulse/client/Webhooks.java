package io.genpulse.client;

import java.nio.charset.StandardCharsets;
import java.security.InvalidKeyException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Base64;
import java.util.Locale;
import java.util.Map;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Verifies GenPulse webhooks (Standard Webhooks): {@code webhook-signature} holds space-separated
 * {@code v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>} signatures, the key being the
 * base64 part of the {@code whsec_...} secret; a timestamp more than five minutes away is refused (replays).
 *
 * <pre>{@code
 * Webhooks.verify(System.getenv("GENPULSE_WEBHOOK_SECRET"), headers, rawBody); // throws if not genuine
 * }</pre>
 */
public final class Webhooks {
    public static final long DEFAULT_TOLERANCE_SECONDS = 300;
    private static final String PREFIX = "whsec_";

    private Webhooks() {}

    /** Throws {@link GenPulseException} ({@code invalid_signature}) unless the headers sign {@code body}. */
    public static void verify(String secret, Map<String, String> headers, String body) {
        verify(secret, headers, body.getBytes(StandardCharsets.UTF_8));
    }

    /** The same for the raw body bytes, as received (verify before parsing the JSON). */
    public static void verify(String secret, Map<String, String> headers, byte[] body) {
        verify(secret, headers, body, DEFAULT_TOLERANCE_SECONDS, Instant.now().getEpochSecond());
    }

    /** With an explicit tolerance and clock (Unix seconds), for tests and replays of stored messages. */
    public static void verify(String secret, Map<String, String> headers, byte[] body, long toleranceSeconds,
            long nowSeconds) {
        String id = header(headers, "webhook-id");
        String stamp = header(headers, "webhook-timestamp");
        String signatures = header(headers, "webhook-signature");
        if (id == null || stamp == null || signatures == null) {
            throw invalid("missing webhook-id, webhook-timestamp or webhook-signature");
        }
        long timestamp;
        try {
            timestamp = Long.parseLong(stamp.trim());
        } catch (NumberFormatException e) {
            throw invalid("webhook-timestamp is not an integer");
        }
        if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) {
            throw invalid("webhook-timestamp is outside the tolerance");
        }
        byte[] expected = sign(secret, id, timestamp, body).getBytes(StandardCharsets.US_ASCII);
        for (String candidate : signatures.trim().split("\\s+")) {
            if (candidate.startsWith("v1,")
                    && MessageDigest.isEqual(expected, candidate.getBytes(StandardCharsets.US_ASCII))) {
                return;
            }
        }
        throw invalid("no matching v1 signature");
    }

    /** The {@code v1,...} signature of a message (what GenPulse sends), e.g. for a test receiver. */
    public static String sign(String secret, String msgId, long timestamp, byte[] body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key(secret), "HmacSHA256"));
            mac.update((msgId + "." + timestamp + ".").getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(mac.doFinal(body));
        } catch (NoSuchAlgorithmException | InvalidKeyException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    private static byte[] key(String secret) {
        if (secret == null || !secret.startsWith(PREFIX)) {
            throw new IllegalArgumentException("webhook secret must look like whsec_<base64>");
        }
        try {
            return Base64.getDecoder().decode(secret.substring(PREFIX.length()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("webhook secret: the part after whsec_ is not valid base64", e);
        }
    }

    private static String header(Map<String, String> headers, String name) {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            if (e.getKey() != null && e.getKey().toLowerCase(Locale.ROOT).equals(name)) {
                return e.getValue();
            }
        }
        return null;
    }

    private static GenPulseException invalid(String message) {
        return new GenPulseException(0, "invalid_signature", message, null, null);
    }
}

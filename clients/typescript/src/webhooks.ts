import { GenPulseError } from "./errors.js";

/**
 * Verify a GenPulse webhook (Standard Webhooks): `webhook-signature` holds space-separated
 * `v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>` signatures, the key being the base64
 * part of the `whsec_...` secret; a timestamp more than `toleranceS` (300) seconds away is refused. Resolves when
 * the message is genuine; rejects with a `GenPulseError` of type `invalid_signature` otherwise. Pass the raw body.
 */
export async function verifyWebhook(
  secret: string,
  headers: Headers | Record<string, string | undefined>,
  body: string | Uint8Array,
  options: { toleranceS?: number; now?: number } = {},
): Promise<void> {
  const get = (name: string): string | null => {
    if (headers instanceof Headers) return headers.get(name);
    const key = Object.keys(headers).find((k) => k.toLowerCase() === name);
    return key === undefined ? null : (headers[key] ?? null);
  };
  const id = get("webhook-id");
  const stamp = get("webhook-timestamp");
  const signatures = get("webhook-signature");
  if (!id || !stamp || !signatures) throw invalid("missing webhook-id, webhook-timestamp or webhook-signature");
  if (!/^\s*\d+\s*$/.test(stamp)) throw invalid("webhook-timestamp is not an integer");
  const timestamp = Number(stamp);
  const now = options.now ?? Date.now() / 1000;
  if (Math.abs(now - timestamp) > (options.toleranceS ?? 300)) throw invalid("webhook-timestamp is outside the tolerance");
  const expected = await signWebhook(secret, id, timestamp, body);
  const match = signatures
    .trim()
    .split(/\s+/)
    .some((candidate) => candidate.startsWith("v1,") && constantTimeEqual(candidate, expected));
  if (!match) throw invalid("no matching v1 signature");
}

/** The `v1,...` signature GenPulse sends for a message (for a test receiver). */
export async function signWebhook(secret: string, msgId: string, timestamp: number, body: string | Uint8Array): Promise<string> {
  if (!secret.startsWith("whsec_")) throw new TypeError("webhook secret must look like whsec_<base64>");
  const keyBytes = fromBase64(secret.slice("whsec_".length));
  const subtle = (await webCrypto()).subtle;
  const key = await subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const raw = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const prefix = new TextEncoder().encode(`${msgId}.${timestamp}.`);
  const signed = new Uint8Array(new ArrayBuffer(prefix.length + raw.length));
  signed.set(prefix);
  signed.set(raw, prefix.length);
  const digest = new Uint8Array(await subtle.sign("HMAC", key, signed));
  return `v1,${toBase64(digest)}`;
}

function invalid(message: string): GenPulseError {
  return new GenPulseError(0, "invalid_signature", message);
}

function constantTimeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) || 0) ^ (b.charCodeAt(i) || 0);
  return diff === 0;
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** The platform's Web Crypto (a global everywhere but Node 18, where it comes from `node:crypto`). */
export async function webCrypto(): Promise<Crypto> {
  if (globalThis.crypto?.subtle) return globalThis.crypto;
  return (await import("node:crypto")).webcrypto as unknown as Crypto;
}

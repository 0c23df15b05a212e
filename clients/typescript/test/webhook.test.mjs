// The Standard Webhooks vector shared with the Python and Java SDK tests (tests/vectors/webhook.json).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { GenPulseError, signWebhook, verifyWebhook } from "../dist/index.js";

const path = process.env.GENPULSE_WEBHOOK_VECTOR ?? new URL("../../../tests/vectors/webhook.json", import.meta.url);
const v = JSON.parse(readFileSync(path, "utf8"));

test("signs and verifies the shared vector", async () => {
  assert.equal(await signWebhook(v.secret, v.msg_id, v.timestamp, v.body), v.signature);
  await verifyWebhook(v.secret, v.headers, v.body, { now: v.timestamp, toleranceS: v.tolerance_s });
  await verifyWebhook(v.secret, new Headers(v.headers), new TextEncoder().encode(v.body), { now: v.timestamp + 299 });
});

test("refuses every invalid case of the vector", async () => {
  for (const bad of v.invalid) {
    await assert.rejects(
      verifyWebhook(v.secret, bad.headers, bad.body, { now: bad.now }),
      (err) => err instanceof GenPulseError && err.type === "invalid_signature",
      bad.why,
    );
  }
});

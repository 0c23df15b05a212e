// Against a real GenPulse (tiny model; "kling" pointed at a slow fake vendor): tests/test_sdk_typescript.py
// starts one and runs `npm test` with GENPULSE_URL; it fails if these tests were skipped.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { GenPulse, GenPulseError, TaskFailedError } from "../dist/index.js";

const url = process.env.GENPULSE_URL;
const FOX = { prompt: "a red fox", width: 64, height: 64, num_inference_steps: 2 };
const VIDEO = { prompt: "a fox", duration: 5 };

describe("against a live GenPulse", { skip: url ? false : "set GENPULSE_URL to a running GenPulse" }, () => {
  const gp = new GenPulse({ baseUrl: url ?? "http://127.0.0.1:9" });

  test("runs a tiny-model job and downloads the PNG; upload; list", async () => {
    const task = await gp.run("diffusers", "text-to-image", FOX, { timeoutS: 60 });
    assert.equal(task.status, "succeeded");
    const asset = task.result.assets[0];
    assert.equal(asset.content_type, "image/png");
    const png = await gp.download(asset.id);
    assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);
    assert.equal(createHash("sha256").update(png).digest("hex"), asset.sha256);
    assert.equal((await gp.asset(asset.id)).width, 64);

    const file = join(mkdtempSync(join(tmpdir(), "gp-ts-")), "fox.png");
    writeFileSync(file, png);
    const uploaded = await gp.upload(file);
    assert.equal(uploaded.content_type, "image/png");
    assert.deepEqual(await gp.download(uploaded.id), png);
    assert.equal((await gp.upload(new Blob([png]), "again.png")).sha256, asset.sha256);

    let found = false;
    let pages = 0;
    for await (const page of gp.list({ provider: "diffusers", limit: 1 })) {
      pages++;
      if (page.data.some((t) => t.id === task.id)) found = true;
      if (found || pages > 50) break;
    }
    assert.ok(found);
  });

  test("streams events to the end and resumes with Last-Event-ID", async () => {
    const task = await gp.submit("diffusers", "text-to-image", FOX, { priority: "high", metadata: { suite: "ts" } });
    assert.equal(task.metadata.suite, "ts");
    const events = [];
    for await (const event of gp.events(task.id)) events.push(event);
    const last = events.at(-1);
    assert.equal(events[0].status, "queued");
    assert.equal(last.status, "succeeded");
    assert.equal(last.task.result.assets.length, 1);
    const resumed = [];
    for await (const event of gp.events(task.id, { lastEventId: events.at(-2).seq })) resumed.push(event.seq);
    assert.deepEqual(resumed, [last.seq]);
  });

  test("cancels a long vendor job and retries it", async () => {
    const video = await gp.submit("kling", "text-to-video", VIDEO);
    await assert.rejects(gp.wait(video.id, { timeoutS: 1 }), (err) => err.type === "wait_timeout");
    assert.equal((await gp.cancel(video.id)).status, "canceled");
    assert.equal((await gp.wait(video.id, { timeoutS: 10 })).status, "canceled");
    await assert.rejects(gp.cancel(video.id), (err) => err instanceof GenPulseError && err.status === 409 && err.type === "conflict");
    const key = `ts-retry-${video.id}`;
    const rerun = await gp.retry(video.id, { idempotencyKey: key });
    assert.equal(rerun.retry_of, video.id);
    assert.equal((await gp.retry(video.id, { idempotencyKey: key })).id, rerun.id);
    assert.equal((await gp.cancel(rerun.id)).status, "canceled");
  });

  test("server errors are GenPulseErrors with status and type", async () => {
    await assert.rejects(gp.get("tsk_000000000000000000000000"), (err) => err.status === 404 && err.type === "not_found");
    await assert.rejects(gp.submit("diffusers", "text-to-image", { prompt: "x", width: 60 }), (err) => {
      assert.equal(err.status, 422);
      assert.equal(err.type, "invalid_request");
      assert.match(JSON.stringify(err.details), /params\.width/);
      return true;
    });
    await assert.rejects(gp.run("diffusers", "text-to-image", FOX, { deadlineS: 0.001, timeoutS: 30 }), (err) => {
      assert.ok(err instanceof TaskFailedError);
      assert.equal(err.task.status, "failed");
      assert.equal(err.type, "provider_timeout");
      return true;
    });
  });

  test("an idempotency key gives back the same task; an API key is accepted while auth is off", async () => {
    const first = await gp.submit("diffusers", "text-to-image", FOX, { idempotencyKey: "ts-once" });
    assert.equal((await gp.submit("diffusers", "text-to-image", FOX, { idempotencyKey: "ts-once" })).id, first.id);
    await assert.rejects(gp.submit("diffusers", "text-to-image", { prompt: "other" }, { idempotencyKey: "ts-once" }), (err) => err.status === 409);
    const keyed = new GenPulse({ baseUrl: url, apiKey: "gp_unused_while_auth_is_off" });
    assert.equal((await keyed.get(first.id)).id, first.id);
  });
});

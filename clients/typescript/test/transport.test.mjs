// The retry policy and headers, against a tiny node:http server on 127.0.0.1 (no GenPulse needed).
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { GenPulse, GenPulseError } from "../dist/index.js";

const TASK = { id: "tsk_1", provider: "diffusers", task_type: "text-to-image", status: "queued", params: {}, created_at: 1 };
const seen = [];
let submits = 0;
let server;
let url;

before(async () => {
  server = createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, auth: req.headers.authorization, key: req.headers["idempotency-key"] });
    req.resume();
    req.on("end", () => {
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && ++submits === 1) {
        res.writeHead(503, { "retry-after": "0" });
        res.end(JSON.stringify({ error: { type: "service_unavailable", message: "busy", details: null } }));
      } else if (req.url.endsWith("/missing")) {
        res.writeHead(404);
        res.end(JSON.stringify({ error: { type: "not_found", message: "no task", details: { id: "x" } } }));
      } else {
        res.writeHead(req.method === "POST" ? 202 : 200);
        res.end(JSON.stringify(TASK));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

test("a submit answered 503 is sent again with the same idempotency key and the bearer key", async () => {
  const gp = new GenPulse({ baseUrl: url, apiKey: "gp_test_key", backoffS: 0.01 });
  const task = await gp.submit("diffusers", "text-to-image", { prompt: "x" });
  assert.equal(task.id, "tsk_1");
  const posts = seen.filter((s) => s.method === "POST");
  assert.equal(posts.length, 2);
  assert.equal(posts[0].key, posts[1].key);
  assert.match(posts[0].key, /^sdk-/);
  assert.equal(posts[1].auth, "Bearer gp_test_key");
});

test("no key, no Authorization; errors carry status, type, message and details", async () => {
  const gp = new GenPulse({ baseUrl: url });
  await assert.rejects(gp.get("missing"), (err) => {
    assert.ok(err instanceof GenPulseError);
    assert.deepEqual([err.status, err.type, err.message, err.details], [404, "not_found", "no task", { id: "x" }]);
    return true;
  });
  assert.equal(seen.at(-1).auth, undefined);
});

test("an unreachable server is one error type", async () => {
  const gp = new GenPulse({ baseUrl: "http://127.0.0.1:9", maxRetries: 1, backoffS: 0.01 });
  await assert.rejects(gp.get("tsk_1"), (err) => err instanceof GenPulseError && err.type === "unreachable" && err.status === 0);
});

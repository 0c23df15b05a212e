// System: readiness checks, providers and their limits, the queue (the caller's), metrics (admin key), Ray dashboard.
import { ApiError, get, session } from "../api.js";
import { age, h, showError } from "../dom.js";

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

export async function render(main, ctx) {
  const ready = h("div", { class: "card", id: "ready" });
  const providers = h("div", { id: "providers" });
  const queue = h("div", { class: "card", id: "queue-depth" });
  const metrics = h("div", { id: "metrics" });
  const dashboard = `${location.protocol}//${location.hostname}:8265`;
  main.append(h("h1", {}, "System"), h("h2", {}, "Readiness"), ready, h("h2", {}, "Providers"), providers,
    ctx.role === "tenant" ? [h("h2", {}, "Your queue"), queue] : [], ctx.role === "admin" ? [h("h2", {}, "Metrics"), metrics] : [],
    h("p", {}, h("a", { href: dashboard, target: "_blank", rel: "noopener" }, "Ray dashboard"),
      h("span", { class: "muted" }, " (port 8265 of the head node, when it is reachable from here)")));

  const response = await fetch("/health/ready");
  const body = await response.json().catch(() => ({}));
  ready.replaceChildren(h("p", {}, h("strong", {}, body.status || `HTTP ${response.status}`)),
    h("dl", { class: "kv" }, Object.entries(body.checks || {}).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])));

  try {
    const list = (await get("/v1/providers")).data;
    providers.replaceChildren(table(["Provider", "Kind", "Task types", "Configured", "Limits"], list.map((p) => [
      p.name, p.kind || "", (p.task_types || []).join(", "), p.configured === false ? "no" : "yes",
      Object.entries(p.limits || {}).map(([k, v]) => `${k} ${v}`).join(" · ")])));
  } catch (error) { showError(providers, error); }

  if (ctx.role === "tenant") {
    try {
      const [queued, running] = await Promise.all([get("/v1/tasks", { status: "queued", limit: 200 }),
        get("/v1/tasks", { status: "running", limit: 200 })]);
      const count = (page) => `${page.data.length}${page.next_cursor ? "+" : ""}`;
      const oldest = queued.data.at(-1);
      queue.replaceChildren(h("dl", { class: "kv" }, h("dt", {}, "Queued"), h("dd", {}, count(queued)),
        h("dt", {}, "Running"), h("dd", {}, count(running)),
        h("dt", {}, "Oldest queued"), h("dd", {}, oldest ? age(oldest.created_at) : "—")));
    } catch (error) { showError(queue, error); }
  }
  if (ctx.role === "admin") {
    const r = await fetch("/metrics", { headers: { Authorization: `Bearer ${session.key}` } });
    if (!r.ok) { showError(metrics, new ApiError(r.status, null)); return; }
    const lines = (await r.text()).split("\n").filter((l) => l.startsWith("genpulse_") && !l.includes("_bucket"));
    metrics.replaceChildren(h("pre", {}, lines.slice(0, 400).join("\n") || "No GenPulse metrics yet."));
  }
}

// System: readiness checks, providers and their limits, the queue (the caller's), metrics (admin key), Ray dashboard.
import { ApiError, get, session } from "../api.js";
import { age, h, showError } from "../dom.js";

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

const SAMPLE = /^genpulse_(\w+)(?:\{([^}]*)\})?\s+(\S+)$/;

/** The GenPulse samples of a Prometheus text page: one row per provider (a column per metric and other labels),
 * then the samples without a provider. Histogram buckets are left out. */
function metricTables(text) {
  const byProvider = new Map();
  const columns = new Set();
  const other = [];
  for (const line of text.split("\n")) {
    const m = SAMPLE.exec(line);
    if (!m || m[1].endsWith("_bucket")) continue;
    const labels = Object.fromEntries([...(m[2] || "").matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const value = Number(m[3]);
    const shown = Number.isInteger(value) ? String(value) : value.toFixed(2);
    const { provider, ...rest } = labels;
    const column = [m[1], ...Object.entries(rest).map(([k, v]) => `${k}=${v}`)].join(" ");
    if (provider === undefined) { other.push([column, shown]); continue; }
    columns.add(column);
    if (!byProvider.has(provider)) byProvider.set(provider, {});
    byProvider.get(provider)[column] = shown;
  }
  const cols = [...columns].sort();
  return [
    cols.length ? h("div", { style: "overflow-x:auto" }, table(["Provider", ...cols],
      [...byProvider.entries()].sort().map(([p, row]) => [p, ...cols.map((c) => row[c] ?? "")]))) : h("p", { class: "muted" }, "No per-provider metrics yet."),
    h("dl", { class: "kv card" }, other.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
  ];
}

export async function render(main, ctx) {
  const ready = h("div", { class: "card", id: "ready" });
  const providers = h("div", { id: "providers" });
  const queue = h("div", { class: "card", id: "queue-depth" });
  const metrics = h("div", { id: "metrics" });
  const account = h("div", { id: "account" });
  const dashboard = `${location.protocol}//${location.hostname}:8265`;
  main.append(h("h1", {}, "System"), h("h2", {}, "Readiness"), ready, h("h2", {}, "Providers"), providers,
    ...(ctx.role === "tenant" ? [h("h2", {}, "Your queue"), queue, h("h2", {}, "Your credits and usage"), account] : []),
    ...(ctx.role === "admin" ? [h("h2", {}, "Metrics"), metrics] : []),
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
      Object.entries(p.limits || {}).map(([k, v]) => `${k} ${typeof v === "object" ? JSON.stringify(v) : v}`).join(" · ")])));
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
    try {
      const [me, usage] = await Promise.all([get("/v1/me"), get("/v1/usage")]);
      account.replaceChildren(h("p", {}, `Balance ${me.balance} · held ${me.held} · available ${me.available} credits`),
        usage.data.length ? table(["Day", "Provider", "Task type", "Succeeded", "Refunded", "Spend"],
          usage.data.map((u) => [u.day, u.provider, u.task_type, u.succeeded, u.refunded, u.spend]))
          : h("p", { class: "muted" }, "No usage yet."));
    } catch (error) { showError(account, error); }
  }
  if (ctx.role === "admin") {
    const r = await fetch("/metrics", { headers: { Authorization: `Bearer ${session.key}` } });
    if (!r.ok) { showError(metrics, new ApiError(r.status, null)); return; }
    metrics.replaceChildren(...metricTables(await r.text()));
  }
}

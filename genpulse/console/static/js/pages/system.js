// System: readiness checks, providers and their limits, the queue (the caller's), metrics (admin key), Ray dashboard.
// For the admin (and with auth off): live limiter and worker-pool stats and the storage backend from
// GET /v1/admin/system, refreshed every few seconds.
import { ApiError, get, session } from "../api.js";
import { age, h, showError } from "../dom.js";

const REFRESH_MS = 3000;

function table(headers, rows, attrs = {}) {
  return h("table", attrs, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

const seconds = (s) => (s === null || s === undefined ? "—" : s < 60 ? `${s.toFixed(1)}s` : `${Math.round(s / 60)}m`);

/** The admin's live tables: per provider its limiter and its worker pool; the storage backend. */
function renderReport(report, limiters, pools, storage) {
  const limited = report.providers.filter((p) => p.limiter || p.limiter_error);
  limiters.replaceChildren(limited.length ? h("div", { style: "overflow-x:auto" }, table(
    ["Provider", "Rate (rps)", "Calls in window", "Calls waiting", "Job slots in use", "Jobs waiting", "Vendor 429s"],
    limited.map((p) => {
      const l = p.limiter;
      if (!l) return [p.provider, h("span", { class: "error" }, p.limiter_error), "", "", "", "", ""];
      const rate = l.current_rps < l.rps ? `${l.current_rps} of ${l.rps}` : String(l.rps);
      return [p.provider, rate, l.window_calls, l.waiting_requests, `${l.jobs_held} / ${l.max_concurrent_jobs}`,
        l.waiting_jobs, l.throttled_429];
    }), { id: "limiter-stats" })) : h("p", { class: "muted" }, "No rate-limited providers."));
  pools.replaceChildren(h("div", { style: "overflow-x:auto" }, table(
    ["Provider", "Workers", "In flight", "Queued", "Running", "Oldest queued"],
    report.providers.map((p) => {
      const down = p.workers.filter((w) => w.error);
      const workers = down.length ? h("span", { class: "error", title: down.map((w) => `${w.name}: ${w.error}`).join("\n") },
        `${p.workers.length - down.length} of ${p.workers.length} answering`) : String(p.workers.length);
      return [p.provider, workers, p.in_flight, p.queued, p.running, seconds(p.oldest_queued_s)];
    }), { id: "pool-stats" })));
  const s = report.storage;
  storage.replaceChildren(h("dl", { class: "kv" }, h("dt", {}, "Storage"), h("dd", {}, s.type),
    h("dt", {}, "Location"), h("dd", { class: "mono" }, s.location),
    ...(s.endpoint_url ? [h("dt", {}, "Endpoint"), h("dd", { class: "mono" }, s.endpoint_url)] : []),
    ...(s.public_base_url ? [h("dt", {}, "Public base URL"), h("dd", { class: "mono" }, s.public_base_url)] : []),
    h("dt", {}, "Task store"), h("dd", {}, `${report.store}${report.store_up ? "" : " (not answering)"}`),
    h("dt", {}, "Updated"), h("dd", {}, new Date(report.generated_at * 1000).toLocaleTimeString())));
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
  const limiters = h("div", { id: "limiters" });
  const pools = h("div", { id: "pools" });
  const storage = h("div", { class: "card", id: "storage" });
  const admin = ctx.role === "admin" || !session.key;  // auth off: the caller is the admin too
  const dashboard = `${location.protocol}//${location.hostname}:8265`;
  main.append(h("h1", {}, "System"), h("h2", {}, "Readiness"), ready, h("h2", {}, "Providers"), providers,
    ...(admin ? [h("h2", {}, "Rate limits now"), limiters, h("h2", {}, "Worker pools"), pools,
      h("h2", {}, "Storage"), storage] : []),
    ...(ctx.role === "tenant" ? [h("h2", {}, "Your queue"), queue, h("h2", {}, "Your credits and usage"), account] : []),
    ...(ctx.role === "admin" ? [h("h2", {}, "Metrics"), metrics] : []),
    h("p", {}, h("a", { href: dashboard, target: "_blank", rel: "noopener" }, "Ray dashboard"),
      h("span", { class: "muted" }, " (port 8265 of the head node, when it is reachable from here)")));

  let timer = null;
  if (admin) {
    let busy = false;
    const refresh = async () => {
      if (busy) return;
      busy = true;
      try { renderReport(await get("/v1/admin/system"), limiters, pools, storage); } catch (error) { showError(limiters, error); }
      finally { busy = false; }
    };
    await refresh();
    timer = setInterval(refresh, REFRESH_MS);
  }
  const stop = () => { if (timer) clearInterval(timer); };

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
    if (!r.ok) showError(metrics, new ApiError(r.status, null));
    else metrics.replaceChildren(...metricTables(await r.text()));
  }
  return stop;
}

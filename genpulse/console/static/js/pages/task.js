// Task: params, a live timeline, error, outputs, webhook deliveries, cost; cancel, retry, copy as curl.
import { api, follow, get, session } from "../api.js";
import { h, progressBar, showError, statusBadge, when } from "../dom.js";
import { assetElement } from "../media.js";

const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

function curl(task) {
  const body = JSON.stringify({ provider: task.provider, task_type: task.task_type, params: task.params });
  const auth = session.key ? ` -H 'Authorization: Bearer $GENPULSE_KEY'` : "";
  return `curl -X POST '${location.origin}/v1/tasks'${auth} -H 'Content-Type: application/json' -d '${body.replaceAll("'", "'\\''")}'`;
}

function cost(billing) {
  if (!billing) return "—";
  if (billing.state === "settled") return `${billing.charged} credits (held ${billing.held})`;
  return `${billing.state}: ${billing.held} credits`;
}

export async function render(main, ctx, [taskId]) {
  const path = `/v1/tasks/${encodeURIComponent(taskId)}`;
  const summary = h("div", { class: "card", id: "summary" });
  const outputs = h("div", { class: "card outputs", id: "outputs" });
  const timeline = h("ol", { id: "timeline" });
  const webhooks = h("div", { id: "webhooks" });
  const message = h("p", { "aria-live": "polite" });
  main.append(h("h1", {}, "Task ", h("span", { class: "mono" }, taskId)), message, summary,
    h("h2", {}, "Outputs"), outputs, h("h2", {}, "Timeline"), h("div", { class: "card" }, timeline),
    h("h2", {}, "Webhook deliveries"), webhooks);

  async function act(what, promise) {
    message.textContent = "";
    try { return await promise; } catch (error) { showError(message, error); return null; }
    finally { if (what) refresh(); }
  }

  function show(task) {
    const actions = h("div", { class: "actions" },
      h("button", { disabled: TERMINAL.has(task.status), onclick: () => act("cancel", api("POST", `${path}/cancel`)) }, "Cancel"),
      h("button", { disabled: task.status !== "failed", onclick: async () => {
        const made = await act(null, api("POST", `${path}/retry`, {}));
        if (made) location.hash = `#/task/${encodeURIComponent(made.id)}`;
      } }, "Retry"),
      h("button", { class: "plain", onclick: async () => {
        const text = curl(task);
        try { await navigator.clipboard.writeText(text); message.textContent = "Copied."; }
        catch { message.replaceChildren(h("pre", {}, text)); }
      } }, "Copy as curl"));
    const rows = [
      ["Status", statusBadge(task.status)], ["Progress", progressBar(task.status === "succeeded" ? 100 : task.progress)],
      ["Provider", `${task.provider} · ${task.task_type}`], ["Created", when(task.created_at)],
      ["Started", when(task.started_at)], ["Finished", when(task.finished_at)], ["Attempts", task.attempts],
      ["Vendor job", task.provider_task_id || "—"], ["Cost", cost(task.billing)],
      ["Retry of", task.retry_of ? h("a", { href: `#/task/${task.retry_of}` }, task.retry_of) : "—"],
    ];
    const error = task.error ? h("div", { class: "error", id: "task-error" },
      h("strong", {}, task.error.type), task.error.provider_code ? ` (vendor code ${task.error.provider_code})` : "",
      ": ", task.error.message) : null;
    summary.replaceChildren(actions, error || "",
      h("dl", { class: "kv" }, rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      h("h2", {}, "Params"), h("pre", {}, JSON.stringify(task.params, null, 2)));
    const assets = (task.result && task.result.assets) || [];
    outputs.replaceChildren(...(assets.length ? assets.map((a) => assetElement(a, { poster: task.result.poster || null })) :
      [h("p", { class: "muted" }, TERMINAL.has(task.status) ? "No outputs." : "Not finished yet.")]));
  }

  async function refresh() {
    try {
      show(await get(path));
      const list = await get(`${path}/webhooks`);
      webhooks.replaceChildren(list.data.length ? h("table", {},
        h("thead", {}, h("tr", {}, ["Event", "URL", "Status", "Attempts"].map((t) => h("th", {}, t)))),
        h("tbody", {}, list.data.map((d) => h("tr", {}, h("td", {}, d.event_type), h("td", { title: d.url }, d.url),
          h("td", {}, d.status), h("td", {}, d.attempt_count))))) : h("p", { class: "muted" }, "None."));
    } catch (error) {
      showError(summary, error);
    }
  }

  await refresh();
  return follow(`${path}/events?after=0`, (kind, event) => {
    const detail = event.progress !== null && event.progress !== undefined ? ` ${Math.round(event.progress)}%` : "";
    timeline.append(h("li", {}, h("span", { class: "muted" }, new Date(event.at * 1000).toLocaleTimeString()), " ",
      statusBadge(event.status), detail));
    if (event.task) { show(event.task); return false; }
    if (kind === "status") refresh();
    return true;
  });
}

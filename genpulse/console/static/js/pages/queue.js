// Queue: the caller's tasks, newest first, filtered and paged, kept live by GET /v1/events.
import { follow, get } from "../api.js";
import { age, h, progressBar, showError, statusBadge } from "../dom.js";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "canceled"];
const PAGE = 50;

export async function render(main) {
  const rows = new Map();  // task id -> { task, tr }
  const filters = { status: "", provider: "", text: "" };
  let cursor = null;
  const tbody = h("tbody");
  const more = h("button", { class: "plain", onclick: () => load(false) }, "Load more");
  const count = h("span", { class: "muted", "aria-live": "polite" });
  const statusSelect = h("select", { "aria-label": "Status", onchange: (e) => { filters.status = e.target.value; load(true); } },
    STATUSES.map((s) => h("option", { value: s }, s || "any status")));
  const providerSelect = h("select", { "aria-label": "Provider", onchange: (e) => { filters.provider = e.target.value; load(true); } },
    h("option", { value: "" }, "any provider"));
  const search = h("input", { type: "search", placeholder: "Search id or prompt", "aria-label": "Search",
    oninput: (e) => { filters.text = e.target.value.trim().toLowerCase(); applySearch(); } });
  main.append(
    h("h1", {}, "Queue"),
    h("div", { class: "filters" }, statusSelect, providerSelect, search, count),
    h("table", { id: "queue" },
      h("colgroup", {}, h("col", { class: "c-id" }), h("col"), h("col", { class: "hide-sm" }), h("col", { class: "c-status" }),
        h("col", { class: "c-progress hide-sm" }), h("col", { class: "c-age" })),
      h("thead", {}, h("tr", {}, ["Task", "Provider", "Type", "Status", "Progress", "Age"].map((t, i) =>
        h("th", { class: i === 2 || i === 4 ? "hide-sm" : null }, t)))),
      tbody),
    h("p", {}, more));

  get("/v1/providers").then((body) => {
    for (const p of body.data) providerSelect.append(h("option", { value: p.name }, p.name));
  }).catch(() => {});

  function matches(task) {
    if (filters.status && task.status !== filters.status) return false;
    if (filters.provider && task.provider !== filters.provider) return false;
    if (!filters.text) return true;
    const prompt = String((task.params && task.params.prompt) || "").toLowerCase();
    return task.id.toLowerCase().includes(filters.text) || prompt.includes(filters.text);
  }

  function applySearch() {
    for (const { task, tr } of rows.values()) tr.hidden = !matches(task);
    count.textContent = `${[...rows.values()].filter((r) => !r.tr.hidden).length} shown`;
  }

  function row(task) {
    const open = () => { location.hash = `#/task/${encodeURIComponent(task.id)}`; };
    const tr = h("tr", { class: "row", tabindex: 0, "data-id": task.id, onclick: open,
      onkeydown: (e) => { if (e.key === "Enter") open(); } });
    fill(tr, task);
    return tr;
  }

  function fill(tr, task) {
    tr.dataset.status = task.status;
    tr.replaceChildren(
      h("td", { class: "mono", title: task.id }, task.id),
      h("td", {}, task.provider),
      h("td", { class: "hide-sm" }, task.task_type),
      h("td", {}, statusBadge(task.status)),
      h("td", { class: "hide-sm" }, progressBar(task.status === "succeeded" ? 100 : task.progress)),
      h("td", { class: "muted", title: new Date(task.created_at * 1000).toLocaleString() }, age(task.created_at)));
  }

  function upsert(task, atTop) {
    const known = rows.get(task.id);
    if (known) {
      known.task = task;
      fill(known.tr, task);
      known.tr.hidden = !matches(task);
      return;
    }
    const tr = row(task);
    rows.set(task.id, { task, tr });
    tr.hidden = !matches(task);
    if (atTop) tbody.prepend(tr); else tbody.append(tr);
  }

  async function load(reset) {
    if (reset) { rows.clear(); tbody.replaceChildren(); cursor = null; }
    const query = { limit: PAGE };
    if (filters.status) query.status = filters.status;
    if (filters.provider) query.provider = filters.provider;
    if (cursor) query.cursor = cursor;
    try {
      const page = await get("/v1/tasks", query);
      for (const task of page.data) upsert(task, false);
      cursor = page.next_cursor;
      more.hidden = !cursor;
      applySearch();
    } catch (error) {
      showError(tbody, error);
    }
  }

  const pending = new Set();
  let loaded = false;
  async function onEvent(kind, event) {
    if (kind === "ready" && !loaded) { loaded = true; await load(true); return; }  // list after the stream's start
    if (kind === "reset") { await load(true); return; }
    if (kind !== "task") return;
    const known = rows.get(event.task_id);
    if (known) {
      upsert({ ...known.task, status: event.status, progress: event.progress }, true);
      return;
    }
    if (pending.has(event.task_id)) return;
    pending.add(event.task_id);
    try {
      upsert(await get(`/v1/tasks/${encodeURIComponent(event.task_id)}`), true);
      applySearch();
    } catch { /* deleted by retention meanwhile */ } finally {
      pending.delete(event.task_id);
    }
  }

  const stop = follow("/v1/events", onEvent);
  const fallback = setTimeout(() => { if (!loaded) { loaded = true; load(true); } }, 3000);  // no stream (503)
  const ticking = setInterval(() => {
    for (const { task, tr } of rows.values()) tr.lastElementChild.textContent = age(task.created_at);
  }, 30_000);
  return () => { clearTimeout(fallback); clearInterval(ticking); stop(); };
}

// Queue: the caller's tasks, newest first, filtered and paged, kept live by GET /v1/events. For the admin key:
// every tenant's tasks (GET /v1/admin/tasks) with a tenant column, kept live by polling (no cross-tenant stream).
import { follow, get } from "../api.js";
import { age, h, progressBar, showError, statusBadge } from "../dom.js";

const STATUSES = ["", "queued", "running", "succeeded", "failed", "canceled"];
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);
const PAGE = 50;
const POLL_MS = 2000;
const COLUMN = { Task: "c-id", Tenant: "c-tenant", Status: "c-status", Progress: "c-progress", Age: "c-age" };

export async function render(main, ctx) {
  const admin = ctx.role === "admin";
  const list = admin ? "/v1/admin/tasks" : "/v1/tasks";
  const one = (id) => `${admin ? "/v1/admin/tasks" : "/v1/tasks"}/${encodeURIComponent(id)}`;
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
  const heads = ["Task", ...(admin ? ["Tenant"] : []), "Provider", "Type", "Status", "Progress", "Age"];
  const hidden = new Set(["Type", "Progress", ...(admin ? ["Provider"] : [])]);  // on phones
  main.append(
    h("h1", {}, "Queue"),
    h("div", { class: "filters" }, statusSelect, providerSelect, search, count),
    h("table", { id: "queue" },
      h("colgroup", {}, heads.map((t) => h("col", { class: [COLUMN[t], hidden.has(t) ? "hide-sm" : ""].join(" ").trim() || null }))),
      h("thead", {}, h("tr", {}, heads.map((t) => h("th", { class: hidden.has(t) ? "hide-sm" : null }, t)))),
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
    if (admin) {  // the task page is the tenant's: the admin sees the row only
      const tr = h("tr", { "data-id": task.id });
      fill(tr, task);
      return tr;
    }
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
      admin ? h("td", { class: "mono tenant", title: task.tenant_id }, task.tenant_id) : null,
      h("td", { class: admin ? "hide-sm" : null }, task.provider),
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
      const page = await get(list, query);
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
      upsert(await get(one(event.task_id)), true);
      applySearch();
    } catch { /* deleted by retention meanwhile */ } finally {
      pending.delete(event.task_id);
    }
  }

  // The admin's queue: new tasks and changes come from polling the first page and the open (queued, running)
  // tasks; a loaded row still open that neither shows is read again by id.
  async function poll() {
    const query = (extra) => ({ limit: 200, ...(filters.provider ? { provider: filters.provider } : {}), ...extra });
    const pages = await Promise.all([get(list, { ...query({}), limit: PAGE, ...(filters.status ? { status: filters.status } : {}) }),
      get(list, query({ status: "queued" })), get(list, query({ status: "running" }))]);
    const newest = [...pages[0].data].reverse();  // oldest first, so each new one goes on top in order
    for (const task of newest) upsert(task, !rows.has(task.id));
    const open = new Set();
    for (const task of [...pages[1].data, ...pages[2].data]) {
      open.add(task.id);
      if (rows.has(task.id)) upsert(task, false);
    }
    const complete = !pages[1].next_cursor && !pages[2].next_cursor;
    const stale = [...rows.values()].filter(({ task }) => !TERMINAL.has(task.status) && !open.has(task.id));
    if (complete) {
      for (const { task } of stale.slice(0, 20)) upsert(await get(one(task.id)), false);
    }
    applySearch();
  }

  let stop;
  let fallback = null;
  if (admin) {
    await load(true);
    let polling = false;
    const timer = setInterval(async () => {
      if (polling) return;
      polling = true;
      try { await poll(); } catch { /* the next tick tries again */ } finally { polling = false; }
    }, POLL_MS);
    stop = () => clearInterval(timer);
  } else {
    stop = follow("/v1/events", onEvent);
    fallback = setTimeout(() => { if (!loaded) { loaded = true; load(true); } }, 3000);  // no stream (503)
  }
  const ticking = setInterval(() => {
    for (const { task, tr } of rows.values()) tr.lastElementChild.textContent = age(task.created_at);
  }, 30_000);
  return () => { clearTimeout(fallback); clearInterval(ticking); stop(); };
}

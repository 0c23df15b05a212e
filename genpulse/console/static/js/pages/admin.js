// Admin (admin key): tenants with balances, create, top up; a tenant's keys: create (shown once), revoke.
import { api, get } from "../api.js";
import { h, showError, when } from "../dom.js";

export async function render(main) {
  const list = h("tbody");
  const more = h("button", { class: "plain", hidden: true, onclick: () => load() }, "Load more");
  const detail = h("div", { id: "tenant" });
  const message = h("div", { "aria-live": "polite" });
  const name = h("input", { id: "tenant-name", required: true, placeholder: "Tenant name", "aria-label": "Tenant name" });
  const credits = h("input", { id: "tenant-credits", type: "number", min: 0, value: 0, "aria-label": "Initial credits" });
  let cursor = null;
  main.append(h("h1", {}, "Admin"), message,
    h("form", { class: "filters", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const made = await api("POST", "/v1/admin/tenants", { name: name.value.trim(), credits: Number(credits.value || 0) });
        name.value = "";
        list.prepend(row(made));
        open(made.id);
      } catch (error) { showError(message, error); }
    } }, name, credits, h("button", { type: "submit" }, "Create tenant")),
    h("table", { id: "tenants" }, h("thead", {}, h("tr", {}, ["Tenant", "Name", "Balance", "Held", "Available"].map((t) => h("th", {}, t)))), list),
    h("p", {}, more), detail);

  function row(t) {
    return h("tr", { class: "row", tabindex: 0, "data-id": t.id, onclick: () => open(t.id), onkeydown: (e) => { if (e.key === "Enter") open(t.id); } },
      h("td", { class: "mono" }, t.id), h("td", {}, t.name), h("td", {}, t.balance), h("td", {}, t.held), h("td", {}, t.available));
  }

  async function load() {
    try {
      const page = await get("/v1/admin/tenants", cursor ? { limit: 50, cursor } : { limit: 50 });
      list.append(...page.data.map(row));
      cursor = page.next_cursor;
      more.hidden = !cursor;
    } catch (error) { showError(message, error); }
  }

  async function open(id) {
    const base = `/v1/admin/tenants/${encodeURIComponent(id)}`;
    const secret = h("div", { "aria-live": "polite" });
    const msg = h("div", { "aria-live": "polite" });
    try {
      const [t, keys, usage] = await Promise.all([get(base), get(`${base}/keys`), get(`${base}/usage`)]);
      const amount = h("input", { type: "number", "aria-label": "Credits", id: "topup", required: true });
      const keyName = h("input", { id: "key-name", placeholder: "Key name", "aria-label": "Key name" });
      detail.replaceChildren(h("h2", {}, `${t.name} `, h("span", { class: "mono muted" }, t.id)), msg,
        h("div", { class: "card" }, h("dl", { class: "kv" }, h("dt", {}, "Balance"), h("dd", { id: "balance" }, t.balance),
          h("dt", {}, "Held"), h("dd", {}, t.held), h("dt", {}, "Available"), h("dd", {}, t.available)),
        h("form", { class: "actions", onsubmit: async (e) => {
          e.preventDefault();
          try { await api("POST", `${base}/credits`, { amount: Number(amount.value) }); await open(id); }
          catch (error) { showError(msg, error); }
        } }, amount, h("button", { type: "submit" }, "Top up"))),
        h("h2", {}, "Keys"), secret,
        h("form", { class: "actions", onsubmit: async (e) => {
          e.preventDefault();
          try {
            const made = await api("POST", `${base}/keys`, keyName.value.trim() ? { name: keyName.value.trim() } : {});
            await open(id);
            document.getElementById("new-key").replaceChildren(h("p", { class: "secret" },
              "New key (shown once, copy it now): ", h("code", { id: "secret" }, made.key)));
          } catch (error) { showError(msg, error); }
        } }, keyName, h("button", { type: "submit" }, "Create key")),
        h("div", { id: "new-key" }),
        h("table", { id: "keys" }, h("thead", {}, h("tr", {}, ["Key", "Name", "Prefix", "Created", "Revoked", ""].map((c) => h("th", {}, c)))),
          h("tbody", {}, keys.data.map((k) => h("tr", {}, h("td", { class: "mono" }, k.id), h("td", {}, k.name || ""),
            h("td", { class: "mono" }, k.prefix), h("td", {}, when(k.created_at)), h("td", {}, k.revoked_at ? when(k.revoked_at) : "—"),
            h("td", {}, k.revoked_at ? "" : h("button", { class: "plain", onclick: async () => {
              try { await api("DELETE", `/v1/admin/keys/${encodeURIComponent(k.id)}`); await open(id); }
              catch (error) { showError(msg, error); }
            } }, "Revoke")))))),
        h("h2", {}, "Usage"),
        usage.data.length ? h("table", { id: "usage" }, h("thead", {}, h("tr", {}, ["Day", "Provider", "Task type", "Succeeded", "Refunded", "Spend"].map((c) => h("th", {}, c)))),
          h("tbody", {}, usage.data.map((u) => h("tr", {}, [u.day, u.provider, u.task_type, u.succeeded, u.refunded, u.spend].map((c) => h("td", {}, c))))))
          : h("p", { class: "muted", id: "usage" }, "No usage yet."));
    } catch (error) { showError(detail, error); }
  }

  await load();
}

// The console shell: who is calling (tenant key, admin key, or no auth), the navigation, hash routing.
import { ApiError, get, session } from "./api.js";
import { h } from "./dom.js";
import * as admin from "./pages/admin.js";
import * as gallery from "./pages/gallery.js";
import * as queue from "./pages/queue.js";
import * as submit from "./pages/submit.js";
import * as system from "./pages/system.js";
import * as task from "./pages/task.js";
import * as workflows from "./pages/workflows.js";

const PAGES = {
  queue: { module: queue, title: "Queue", roles: ["tenant", "admin"] },
  task: { module: task, roles: ["tenant"] },
  gallery: { module: gallery, title: "Gallery", roles: ["tenant"] },
  submit: { module: submit, title: "Submit", roles: ["tenant"] },
  workflows: { module: workflows, title: "Workflows", roles: ["tenant"] },
  system: { module: system, title: "System", roles: ["tenant", "admin"] },
  admin: { module: admin, title: "Admin", roles: ["admin"] },
};

const main = document.getElementById("main");
let ctx = null;
let cleanup = null;

async function identify() {
  try {
    return { role: "tenant", me: await get("/v1/me") };
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) return null;
    if (error.status !== 403) throw error;
  }
  await get("/v1/admin/tenants", { limit: 1 });  // the admin key: 403 on tenant routes, 200 here
  return { role: "admin", me: null };
}

function login(message) {
  document.getElementById("nav").replaceChildren();
  document.getElementById("who").replaceChildren();
  const input = h("input", { type: "password", id: "key", autocomplete: "off", required: true,
    "aria-label": "API key", placeholder: "gp_… or the admin key", size: 40 });
  const form = h("form", { class: "card", onsubmit: async (event) => {
    event.preventDefault();
    session.key = input.value.trim();
    await start();
  } },
  h("h1", {}, "Sign in"),
  h("p", { class: "muted" }, "This GenPulse asks for an API key. It is kept for this browser tab only."),
  message ? h("p", { class: "error", role: "alert" }, message) : null,
  h("div", { class: "actions" }, input, h("button", { type: "submit" }, "Sign in")));
  main.replaceChildren(form);
  input.focus();
}

function renderNav() {
  const nav = document.getElementById("nav");
  const current = location.hash.slice(2).split("/")[0];
  nav.replaceChildren(...Object.entries(PAGES)
    .filter(([, page]) => page.title && page.roles.includes(ctx.role))
    .map(([name, page]) => h("a", { href: `#/${name}`, "aria-current": name === current ? "page" : null }, page.title)));
  const who = ctx.role === "admin" ? "admin" : ctx.me ? ctx.me.name : "";
  const out = session.key ? h("button", { class: "plain", onclick: () => { session.key = ""; start(); } }, "Sign out") : null;
  document.getElementById("who").replaceChildren(h("span", { class: "muted" }, who, " "), out || "");
}

async function route() {
  if (!ctx) return;
  if (cleanup) cleanup();
  cleanup = null;
  const [name, ...rest] = location.hash.slice(2).split("/");
  const fallback = ctx.role === "admin" ? "admin" : "queue";
  const page = PAGES[name];
  if (!page || !page.roles.includes(ctx.role)) {
    location.replace(`#/${fallback}`);
    return;
  }
  renderNav();
  document.title = `${page.title || name} · GenPulse`;
  main.replaceChildren();
  cleanup = (await page.module.render(main, ctx, rest.map(decodeURIComponent))) || null;
}

async function start() {
  try {
    ctx = await identify();
  } catch (error) {
    ctx = null;
    if (error instanceof ApiError && error.status === 401) { session.key = ""; login("That key was refused."); return; }
    main.replaceChildren(h("p", { class: "error", role: "alert" }, error.message));
    return;
  }
  if (!ctx) {
    const refused = session.key !== "";
    session.key = "";
    login(refused ? "That key was refused." : "");
    return;
  }
  await route();
}

window.addEventListener("hashchange", async () => {
  await route();
  main.focus({ preventScroll: true });  // keyboard users land on the new page, not on the old link
});
start();

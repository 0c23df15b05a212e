// Gallery: every output of the caller's succeeded tasks as a thumbnail grid, newest first, loaded page by page
// as it scrolls into view (videos as their poster frame); filter by provider and date; a click opens the task.
import { get } from "../api.js";
import { h, showError } from "../dom.js";
import { assetElement } from "../media.js";

const PAGE = 50;

export async function render(main) {
  const grid = h("div", { class: "grid", id: "gallery" });
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const filters = { provider: "", from: 0, to: Infinity };
  let cursor = null;
  let loading = false;
  let shown = 0;
  const provider = h("select", { "aria-label": "Provider", onchange: (e) => { filters.provider = e.target.value; reset(); } },
    h("option", { value: "" }, "any provider"));
  const day = (value, end) => (value ? new Date(`${value}T00:00:00`).getTime() / 1000 + (end ? 86400 : 0) : null);
  const from = h("input", { type: "date", "aria-label": "From", onchange: (e) => { filters.from = day(e.target.value) || 0; reset(); } });
  const to = h("input", { type: "date", "aria-label": "To", onchange: (e) => { filters.to = day(e.target.value, true) || Infinity; reset(); } });
  const sentinel = h("div", { style: "height:1px" });
  main.append(h("h1", {}, "Gallery"), h("div", { class: "filters" }, provider, h("label", {}, "From ", from),
    h("label", {}, "To ", to)), grid, sentinel, status);
  get("/v1/providers").then((body) => {
    for (const p of body.data) provider.append(h("option", { value: p.name }, p.name));
  }).catch(() => {});

  function reset() {
    grid.replaceChildren();
    cursor = null;
    shown = 0;
    more(true);
  }

  async function more(first = false) {
    if (loading || (!first && !cursor)) return;
    loading = true;
    try {
      const query = { status: "succeeded", limit: PAGE };
      if (filters.provider) query.provider = filters.provider;
      if (cursor) query.cursor = cursor;
      const page = await get("/v1/tasks", query);
      for (const task of page.data) {
        const at = task.finished_at || task.created_at;
        if (at < filters.from || at >= filters.to) continue;
        const result = task.result || {};
        const poster = result.poster || null;  // a video's poster frame: shown on the video's tile, not on its own
        for (const asset of result.assets || []) {
          if (poster && asset.id === poster.id) continue;
          const video = (asset.content_type || "").startsWith("video/");
          grid.append(h("a", { href: `#/task/${encodeURIComponent(task.id)}`, title: `${task.id}: ${task.params.prompt || ""}`,
            "data-asset": asset.id }, assetElement(asset, { thumbnail: true, poster: video ? poster : null })));
          shown += 1;
        }
      }
      const older = page.data.length && (page.data.at(-1).created_at < filters.from);
      cursor = older ? null : page.next_cursor;
      status.textContent = `${shown} outputs${cursor ? "" : " (all loaded)"}`;
    } catch (error) {
      showError(status, error);
    } finally {
      loading = false;
    }
    if (cursor && sentinel.getBoundingClientRect().top < window.innerHeight + 400) more();
  }

  const watcher = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) more(); },
    { rootMargin: "400px" });
  watcher.observe(sentinel);
  await more(true);
  return () => watcher.disconnect();
}

// An asset as an element: images shown, videos playable, anything else a download link (all fetched with the key).
import { mediaUrl } from "./api.js";
import { bytes, h } from "./dom.js";

export function assetElement(asset, { thumbnail = false } = {}) {
  const type = asset.content_type || "";
  const label = `${asset.id} (${type}, ${bytes(asset.bytes || 0)})`;
  let el;
  if (type.startsWith("image/")) {
    el = h("img", { alt: label, loading: "lazy", width: asset.width, height: asset.height });
  } else if (type.startsWith("video/")) {
    el = h("video", { controls: !thumbnail, muted: true, preload: "metadata", "aria-label": label });
  } else {
    el = h("a", { download: asset.id }, `Download ${label}`);
  }
  const small = thumbnail && type.startsWith("image/") ? `/v1/assets/${encodeURIComponent(asset.id)}/thumbnail?size=320` : null;
  const attach = () => mediaUrl(small || asset.url).then((url) => {
    if (el.tagName === "A") el.href = url; else el.src = url;
  }).catch(() => { el.replaceWith(h("span", { class: "error" }, `${asset.id}: not available`)); });
  if (thumbnail && "IntersectionObserver" in window) {
    const seen = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) { seen.disconnect(); attach(); }
    }, { rootMargin: "200px" });
    seen.observe(el);
  } else {
    attach();
  }
  return el;
}

// An asset as an element: images shown, videos playable, anything else a download link (all fetched with the key).
// Thumbnails (the gallery) are small JPEGs made by the server: of an image, or of a video's poster frame (the
// task's `result.poster` image when it has one, else the video's first frame decoded by the server). A video
// thumbnail the server cannot make (no decoder there) falls back to the video itself, paused on its first frame.
import { mediaUrl } from "./api.js";
import { bytes, h } from "./dom.js";

const thumbnailUrl = (asset) => `/v1/assets/${encodeURIComponent(asset.id)}/thumbnail?size=320`;

function whenNear(el, load) {
  if (!("IntersectionObserver" in window)) { load(); return; }
  const seen = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) { seen.disconnect(); load(); }
  }, { rootMargin: "200px" });
  seen.observe(el);
}

function unavailable(el, asset) {
  el.replaceWith(h("span", { class: "error" }, `${asset.id}: not available`));
}

function videoThumbnail(asset, poster, label) {
  const img = h("img", { alt: label, loading: "lazy", "data-kind": "video" });
  const box = h("span", { class: "video-thumb" }, img, h("span", { class: "play", "aria-hidden": "true" }, "▶"));
  whenNear(box, () => mediaUrl(thumbnailUrl(poster || asset)).then((url) => { img.src = url; }).catch(() => {
    const video = h("video", { muted: true, preload: "metadata", "aria-label": label });
    img.replaceWith(video);
    mediaUrl(asset.url).then((url) => { video.src = url; }).catch(() => unavailable(box, asset));
  }));
  return box;
}

export function assetElement(asset, { thumbnail = false, poster = null } = {}) {
  const type = asset.content_type || "";
  const label = `${asset.id} (${type}, ${bytes(asset.bytes || 0)})`;
  if (thumbnail && type.startsWith("video/")) return videoThumbnail(asset, poster, label);
  let el;
  if (type.startsWith("image/")) {
    el = h("img", { alt: label, loading: "lazy", width: asset.width, height: asset.height });
  } else if (type.startsWith("video/")) {
    el = h("video", { controls: true, muted: true, preload: "metadata", "aria-label": label });
    if (poster) mediaUrl(poster.url).then((url) => { el.poster = url; }).catch(() => {});
  } else {
    el = h("a", { download: asset.id }, `Download ${label}`);
  }
  const small = thumbnail && type.startsWith("image/") ? thumbnailUrl(asset) : null;
  const attach = () => mediaUrl(small || asset.url).then((url) => {
    if (el.tagName === "A") el.href = url; else el.src = url;
  }).catch(() => unavailable(el, asset));
  if (thumbnail) whenNear(el, attach); else attach();
  return el;
}

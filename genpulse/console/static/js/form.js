// A form built from a JSON Schema of params (as /meta/schemas/{provider} gives it): one field per property, with
// its type, enum, bounds, default and description; image inputs can be uploaded (POST /v1/assets -> asset id).
import { api } from "./api.js";
import { h } from "./dom.js";

const IMAGE = /image|frame|mask/i;

function unwrap(spec) {
  const options = spec.anyOf || spec.oneOf;
  if (!options) return { ...spec, nullable: false };
  const real = options.find((o) => o.type !== "null") || {};
  return { ...real, ...spec, anyOf: undefined, oneOf: undefined, type: real.type, nullable: options.some((o) => o.type === "null") };
}

function input(name, spec, required) {
  const common = { name, id: `f-${name}`, required: required || null, "aria-describedby": `e-${name}` };
  if (spec.enum) {
    return h("select", common, required ? null : h("option", { value: "" }, "—"),
      spec.enum.map((v) => h("option", { value: v, selected: v === spec.default }, v)));
  }
  if (spec.type === "boolean") return h("input", { ...common, type: "checkbox", checked: spec.default === true });
  if (spec.type === "integer" || spec.type === "number") {
    return h("input", { ...common, type: "number", min: spec.minimum ?? spec.exclusiveMinimum, max: spec.maximum ?? spec.exclusiveMaximum,
      step: spec.multipleOf || (spec.type === "integer" ? 1 : "any"), value: spec.default ?? null });
  }
  if (spec.type === "string" && (name === "prompt" || name.endsWith("_prompt") || (spec.maxLength || 0) > 300) && !IMAGE.test(name)) {
    const area = h("textarea", { ...common, rows: name === "prompt" ? 3 : 2, maxlength: spec.maxLength });
    area.value = spec.default ?? "";
    return area;
  }
  if (spec.type === "string") return h("input", { ...common, type: "text", value: spec.default ?? null });
  return h("textarea", { ...common, rows: 2, placeholder: "JSON", "data-json": "1" },
    spec.default !== undefined && spec.default !== null ? JSON.stringify(spec.default) : "");
}

export function paramsForm(schema, onSubmit) {
  const required = new Set(schema.required || []);
  const fields = {};
  const form = h("form", { class: "params", novalidate: true });
  for (const [name, raw] of Object.entries(schema.properties || {})) {
    const spec = unwrap(raw);
    const el = input(name, spec, required.has(name));
    const error = h("div", { class: "field-error", id: `e-${name}`, role: "alert" });
    let upload = null;
    if (spec.type === "string" && IMAGE.test(name)) {
      upload = h("input", { type: "file", accept: "image/*", "aria-label": `Upload ${name}`, onchange: async (e) => {
        const file = e.target.files[0];
        if (!file) return;
        const body = new FormData();
        body.append("file", file);
        error.textContent = "Uploading…";
        try { el.value = (await api("POST", "/v1/assets", body)).id; error.textContent = ""; }
        catch (err) { error.textContent = err.message; }
      } });
    }
    fields[name] = { el, error, spec };
    form.append(h("label", { for: `f-${name}` }, h("span", {}, name, required.has(name) ? " *" : ""), el, upload,
      spec.description ? h("span", { class: "hint" }, spec.description) : null, error));
  }
  form.append(h("div", { class: "actions" }, h("button", { type: "submit" }, "Submit")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const [name, { el, spec }] of Object.entries(fields)) {
      if (el.type === "checkbox") { params[name] = el.checked; continue; }
      const value = el.value.trim();
      if (value === "") continue;
      if (el.dataset.json) { try { params[name] = JSON.parse(value); } catch { params[name] = value; } continue; }
      params[name] = spec.type === "integer" || spec.type === "number" ? Number(value) : value;
    }
    onSubmit(params);
  });
  return {
    form,
    clearErrors() { for (const { error } of Object.values(fields)) error.textContent = ""; },
    /** Put each `{field: "params.x", message}` of a 422 next to field x; returns the ones with no field. */
    showErrors(details) {
      const rest = [];
      for (const d of details || []) {
        const name = String(d.field || "").replace(/^params\./, "").split(".")[0];
        if (fields[name]) { fields[name].error.textContent = d.message; fields[name].el.setAttribute("aria-invalid", "true"); }
        else rest.push(d);
      }
      return rest;
    },
  };
}

// Submit: pick a provider and task type; the form comes from /meta/schemas/{provider}; a 422 is shown next to
// the field it names; the new task opens live on its page.
import { ApiError, api, get } from "../api.js";
import { h, showError } from "../dom.js";
import { paramsForm } from "../form.js";

export async function render(main) {
  const providers = (await get("/v1/providers")).data;
  const provider = h("select", { id: "provider", "aria-label": "Provider" },
    providers.map((p) => h("option", { value: p.name, selected: p.name === "diffusers" },
      `${p.name}${p.configured === false ? " (not configured)" : ""}`)));
  const taskType = h("select", { id: "task-type", "aria-label": "Task type" });
  const holder = h("div");
  const message = h("div", { "aria-live": "polite" });
  main.append(h("h1", {}, "Submit"), h("div", { class: "filters" }, provider, taskType), message, holder);
  let schemas = {};

  async function pickProvider() {
    try {
      schemas = (await get(`/meta/schemas/${encodeURIComponent(provider.value)}`)).task_types;
    } catch (error) { showError(holder, error); return; }
    taskType.replaceChildren(...Object.keys(schemas).map((t) => h("option", { value: t, selected: t === "text-to-image" }, t)));
    pickType();
  }

  function pickType() {
    message.replaceChildren();
    const schema = schemas[taskType.value];
    if (!schema) { holder.replaceChildren(); return; }
    const built = paramsForm(schema, async (params) => {
      built.clearErrors();
      message.replaceChildren();
      try {
        const task = await api("POST", "/v1/tasks", { provider: provider.value, task_type: taskType.value, params });
        location.hash = `#/task/${encodeURIComponent(task.id)}`;
      } catch (error) {
        const rest = error instanceof ApiError && error.status === 422 ? built.showErrors(error.details) : [];
        if (!(error instanceof ApiError) || error.status !== 422 || rest.length || !Array.isArray(error.details)) {
          showError(message, error);
        }
      }
    });
    holder.replaceChildren(h("p", { class: "muted" }, schema.description || ""), built.form);
  }

  provider.addEventListener("change", pickProvider);
  taskType.addEventListener("change", pickType);
  await pickProvider();
}

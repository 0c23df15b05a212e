// Workflows: the tenant's stored ComfyUI workflows (GET /v1/workflows). The chosen one's inputs (a JSON Schema)
// become the form (form.js); a run is POST /v1/workflows/{name}/runs and opens live on its task page; a 422 is
// shown next to the input it names. Workflows are uploaded through the API (docs/workflows.md).
import { ApiError, api, get } from "../api.js";
import { h, showError, when } from "../dom.js";
import { paramsForm } from "../form.js";

const isSeed = (spec) => (spec.anyOf || []).some((option) => option.const === "random");

export async function render(main, ctx, [chosen]) {
  const workflows = (await get("/v1/workflows", { limit: 200 })).data;
  main.append(h("h1", {}, "Workflows"));
  if (!workflows.length) {
    main.append(h("p", { class: "muted", id: "no-workflows" },
      "No workflows yet: upload a ComfyUI graph with POST /v1/workflows (see docs/workflows.md)."));
    return;
  }
  const select = h("select", { id: "workflow", "aria-label": "Workflow" }, workflows.map((w) =>
    h("option", { value: w.name, selected: w.name === chosen }, `${w.name} (version ${w.version})`)));
  const random = h("input", { type: "checkbox", id: "random-seed" });
  const about = h("p", { class: "muted", id: "workflow-about" });
  const message = h("div", { "aria-live": "polite" });
  const holder = h("div", { id: "workflow-form" });
  main.append(h("div", { class: "filters" }, select, h("label", { for: "random-seed" }, random, " Random seed")),
    about, message, holder);

  function pick() {
    message.replaceChildren();
    const workflow = workflows.find((w) => w.name === select.value);
    const seeds = Object.entries(workflow.inputs.properties || {}).filter(([, spec]) => isSeed(spec)).map(([n]) => n);
    const built = paramsForm(workflow.inputs, async (inputs) => {
      built.clearErrors();
      message.replaceChildren();
      if (random.checked) for (const name of seeds) delete inputs[name];
      try {
        const task = await api("POST", `/v1/workflows/${encodeURIComponent(workflow.name)}/runs`,
          { inputs, version: workflow.version, random_seed: random.checked });
        location.hash = `#/task/${encodeURIComponent(task.id)}`;
      } catch (error) {
        const details = Array.isArray(error.details)
          ? error.details.map((d) => ({ ...d, field: String(d.field || "").replace(/^inputs\./, "params.") }))
          : error.details;
        const rest = error instanceof ApiError && error.status === 422 ? built.showErrors(details) : [];
        if (!(error instanceof ApiError) || error.status !== 422 || rest.length || !Array.isArray(details)) {
          showError(message, error);
        }
      }
    });
    const outputs = workflow.outputs.map((o) => o.kind).join(", ");
    about.textContent = `${workflow.description ? `${workflow.description}. ` : ""}Version ${workflow.version} of `
      + `${when(workflow.created_at)}; outputs: ${outputs}.`;
    holder.replaceChildren(built.form);
  }

  select.addEventListener("change", pick);
  pick();
}

// The page: the app over the HTTP API of the same origin (`tensorsight serve`; with several
// models, the chosen one's API under models/<id>/), or over the files of a static copy
// (`tensorsight export`, which marks #app with data-source="static").
import { mount } from "./app.js";
import { chosenModel, fetchModels } from "./share/models.js";
import { httpSource } from "./sources/http.js";
import { staticSource } from "./sources/static.js";

const root = document.getElementById("app");
if (root.dataset.source === "static") {
  mount(root, staticSource("data/"), { page: true });
} else {
  fetchModels().then((models) => {
    const model = models && chosenModel(models);
    const base = model && models.length > 1 ? `models/${model.id}` : "";
    mount(root, httpSource(base), { page: true, models, modelId: model?.id });
  });
}

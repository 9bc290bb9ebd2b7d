// The page: the app over the HTTP API of the same origin (`tensorsight serve`; with several
// models, the chosen one's API under models/<id>/), GAN Lab when the address is /gan, or the app
// over the files of a static copy (`tensorsight export`, which marks #app with
// data-source="static").
import { mount } from "./app.js";
import { mountGan } from "./gan/index.js";
import { chosenModel, fetchModels } from "./share/models.js";
import { httpSource } from "./sources/http.js";
import { staticSource } from "./sources/static.js";

const root = document.getElementById("app");
if (root.dataset.source === "static") {
  mount(root, staticSource("data/"), { page: true });
} else if (/\/gan\/?$/.test(location.pathname)) {
  mountGan(root);
} else {
  fetchModels().then((models) => {
    const model = models && chosenModel(models);
    const base = model && models.length > 1 ? `models/${model.id}` : "";
    mount(root, httpSource(base), { page: true, gan: true, models, modelId: model?.id });
  });
}

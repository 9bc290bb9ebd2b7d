// Several models behind one server (`tensorsight serve --model a --model b`): the list at
// api/models, the one the URL names (#model=<id>), and the picker in the page header. Each model
// is its own API under models/<id>/, so switching models reloads the page on that model.
import { readState } from "./url-state.js";

// The server's models, or null when it has no list (a static copy, an older server).
export async function fetchModels() {
  try {
    const response = await fetch("api/models");
    if (!response.ok) return null;
    const models = await response.json();
    return Array.isArray(models) && models.length ? models : null;
  } catch {
    return null;
  }
}

// The model to show: the one the link names, else the first.
export function chosenModel(models) {
  const wanted = readState().model;
  return models.find((model) => model.id === wanted) || models[0];
}

// A <select> of the models; choosing one reopens the page on it.
export function modelPicker(models, current) {
  const select = document.createElement("select");
  select.className = "ts-model-picker";
  select.setAttribute("aria-label", "Model");
  for (const model of models) {
    const option = document.createElement("option");
    option.value = model.id;
    option.textContent = model.name;
    option.selected = model.id === current;
    select.append(option);
  }
  select.addEventListener("change", () => {
    window.location.hash = `model=${encodeURIComponent(select.value)}`;
    window.location.reload();
  });
  return select;
}

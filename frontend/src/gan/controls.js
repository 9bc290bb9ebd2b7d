// The settings form: every GanSettings field, sent to the session as soon as it changes.
import { el } from "../detail/dom.js";

const CHOICES = {
  loss: [["log", "Log loss (0.95 smoothing)"], ["minimax", "Minimax (saturating)"],
    ["lsq", "Least squares"], ["wgan-gp", "Wasserstein + GP"]],
  d_optimizer: [["sgd", "SGD"], ["adam", "Adam"]],
  g_optimizer: [["sgd", "SGD"], ["adam", "Adam"]],
  noise: [["uniform", "Uniform"], ["gaussian", "Gaussian"]],
  noise_dim: [[1, "1-D"], [2, "2-D"]],
};
const RATES = [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1];
const R1_WEIGHTS = [0, 0.01, 0.1, 1, 10];   // 0 is GAN Lab's (no penalty)
const NUMBERS = {   // name: [label, min, max]
  k_d: ["D steps per epoch", 0, 10], k_g: ["G steps per epoch", 0, 10],
  d_layers: ["D hidden layers", 0, 6], d_neurons: ["D neurons", 1, 128],
  g_layers: ["G hidden layers", 0, 6], g_neurons: ["G neurons", 1, 128],
  batch_size: ["Batch size", 2, 2048],
};
const LABELS = { loss: "Loss", d_optimizer: "D optimiser", g_optimizer: "G optimiser",
  noise: "Noise", noise_dim: "Noise dimensions", d_lr: "D learning rate", g_lr: "G learning rate",
  r1_weight: "R1 penalty on D" };

export function createSettings(onChange) {
  const inputs = {};
  const rows = [];
  const field = (name, input) => {
    inputs[name] = input;
    input.dataset.setting = name;
    input.addEventListener("change", () => onChange(name, read(name)));
    rows.push(el("label", { class: "tsg-field" }, el("span", {}, LABELS[name] ?? NUMBERS[name][0]), input));
  };
  for (const name of ["loss", "d_optimizer", "g_optimizer"]) field(name, select(CHOICES[name]));
  for (const name of ["d_lr", "g_lr"]) field(name, select(RATES.map((r) => [r, String(r)])));
  field("r1_weight", select(R1_WEIGHTS.map((w) => [w, String(w)])));
  for (const name of ["k_d", "k_g", "d_layers", "d_neurons", "g_layers", "g_neurons", "batch_size"]) {
    const [, min, max] = NUMBERS[name];
    field(name, el("input", { type: "number", min, max, step: 1 }));
  }
  for (const name of ["noise", "noise_dim"]) field(name, select(CHOICES[name]));

  function read(name) {
    const value = inputs[name].value;
    if (["loss", "d_optimizer", "g_optimizer", "noise"].includes(name)) return value;
    return Number(value);
  }

  function show(settings) {
    for (const [name, input] of Object.entries(inputs)) {
      if (document.activeElement === input) continue;   // do not fight the user's typing
      const value = String(settings[name]);
      if (input.tagName === "SELECT" && ![...input.options].some((o) => o.value === value)) {
        input.append(el("option", { value }, value));
      }
      input.value = value;
    }
  }

  return { el: el("div", { class: "tsg-settings" }, rows), show };
}

function select(options) {
  return el("select", {}, options.map(([value, label]) => el("option", { value }, label)));
}

// The input of a generator: the latent vector z, drawn number by number, with a new random z,
// sliders on a few of its dimensions, a walk between two z's that re-runs (and so animates)
// every layer, the generated image and the discriminator's verdict, and a photo upload that
// asks the discriminator about a real picture (labelled for what it can and cannot tell).
import { activationColor, cssColor } from "../colors.js";
import { clear, el } from "../detail/dom.js";
import { inkFor } from "../detail/palette.js";
import { fmt } from "../ui/format.js";
import "./latent.css";

const SLIDERS = 4;
const SLIDER_LIMIT = 3;
const WALK_STEPS = 24;
// The numbers' colours: |z| = 2.5 is full colour.
const numberColor = activationColor(2.5);

// A standard normal draw (Box-Muller) for the far end of a walk.
export function randomNormal(count, random = Math.random) {
  const values = [];
  while (values.length < count) {
    const u = 1 - random();
    const v = random();
    const radius = Math.sqrt(-2 * Math.log(u));
    values.push(radius * Math.cos(2 * Math.PI * v), radius * Math.sin(2 * Math.PI * v));
  }
  return values.slice(0, count);
}

// The point `t` of the way from a to b (straight line in latent space).
export function lerp(a, b, t) {
  return a.map((value, index) => value + (b[index] - value) * t);
}

// createLatentPanel({latent, source, run}) -> {el, show(result), start()}; run(params) runs the
// generator ({z} or {seed}) through the app, resolving once every layer is painted.
export function createLatentPanel({ latent, source, run }) {
  const state = { z: null, walking: false, busy: false, pending: null };
  const numbers = el("div", { class: "ts-latent-numbers", role: "list", "aria-label": `latent vector z, ${latent.dim} numbers`, "data-role": "latent-numbers" });
  const cells = [];
  for (let index = 0; index < latent.dim; index++) {
    const cell = el("span", { class: "ts-latent-cell", role: "listitem", "data-index": index }, "");
    cells.push(cell);
    numbers.append(cell);
  }
  const image = el("img", { class: "ts-latent-image", alt: "The generated image", width: 160, height: 160, "data-role": "generated" });
  const verdictText = el("p", { class: "ts-latent-verdict", "data-role": "verdict", "aria-live": "polite" });
  const newButton = el("button", { type: "button", class: "ts-latent-button", "data-role": "new-z", onclick: () => randomRun() }, "New random z");
  const walkButton = el("button", { type: "button", class: "ts-latent-button", "data-role": "walk", onclick: () => (state.walking ? stopWalk() : walk()) }, "Walk to a new z");
  const sliders = [];
  const sliderBox = el("div", { class: "ts-latent-sliders" });
  for (let index = 0; index < Math.min(SLIDERS, latent.dim); index++) {
    const value = el("output", { class: "ts-latent-slider-value" }, "0");
    const input = el("input", {
      type: "range", min: -SLIDER_LIMIT, max: SLIDER_LIMIT, step: 0.05, value: 0,
      "aria-label": `z[${index}]`, "data-role": "latent-slider", "data-index": index,
    });
    input.addEventListener("input", () => {
      if (!state.z) return;
      stopWalk();
      const z = state.z.slice();
      z[index] = Number(input.value);
      value.textContent = fmt(z[index], 2);
      request({ z });
    });
    sliders.push({ input, value, index });
    sliderBox.append(el("label", { class: "ts-latent-slider" }, el("span", {}, `z[${index}]`), input, value));
  }

  const photoInput = el("input", { type: "file", accept: "image/*", "data-role": "judge-upload", "aria-label": "A photo for the discriminator" });
  const photoView = el("img", { class: "ts-latent-photo", alt: "The photo as the discriminator sees it", width: 96, height: 96, hidden: true });
  const photoVerdict = el("p", { class: "ts-latent-verdict", "data-role": "photo-verdict", "aria-live": "polite" });
  photoInput.addEventListener("change", async () => {
    const file = photoInput.files && photoInput.files[0];
    if (!file) return;
    photoVerdict.textContent = "Asking the discriminator…";
    try {
      const answer = await source.judgeUpload(file);
      photoView.src = `data:image/png;base64,${answer.input_png_base64}`;
      photoView.hidden = false;
      photoVerdict.textContent = verdictSentence(answer);
    } catch (error) {
      photoVerdict.textContent = error.message;
    }
  });

  const note = el("p", { class: "ts-note", "data-role": "verdict-note" }, latent.verdict_note || "");
  const element = el("section", { class: "ts-card ts-latent", "data-role": "latent-panel" },
    el("h2", {}, "Latent vector z"),
    el("p", { class: "ts-note" }, `The generator's input: ${latent.dim} numbers drawn from a standard normal distribution (red positive, blue negative). Every image comes from one such vector.`),
    numbers,
    el("div", { class: "ts-latent-buttons" }, newButton, walkButton),
    sliderBox,
    el("figure", { class: "ts-latent-figure" }, image, el("figcaption", {}, "generated image")),
    latent.critic ? verdictText : null,
    latent.critic ? el("details", { class: "ts-latent-judge" },
      el("summary", {}, "Ask the discriminator about a photo"),
      photoInput, photoView, photoVerdict, note) : null);

  // The newest request wins: while one runs, only the latest slider position waits.
  async function request(params) {
    if (state.busy) { state.pending = params; return; }
    state.busy = true;
    try {
      await run(params);
    } finally {
      state.busy = false;
    }
    if (state.pending) {
      const next = state.pending;
      state.pending = null;
      await request(next);
    }
  }

  function randomRun() {
    stopWalk();
    return request({ seed: Math.floor(Math.random() * 2 ** 31) });
  }

  async function walk() {
    if (!state.z) return;
    state.walking = true;
    walkButton.textContent = "Stop the walk";
    walkButton.setAttribute("aria-pressed", "true");
    const from = state.z.slice();
    const to = randomNormal(latent.dim);
    for (let step = 1; step <= WALK_STEPS && state.walking; step++) {
      await run({ z: lerp(from, to, step / WALK_STEPS) });
    }
    stopWalk();
  }

  function stopWalk() {
    state.walking = false;
    walkButton.textContent = "Walk to a new z";
    walkButton.setAttribute("aria-pressed", "false");
  }

  function show(result) {
    if (!result.latent) return;
    state.z = result.latent.slice();
    result.latent.forEach((value, index) => {
      const color = numberColor(value);
      const cell = cells[index];
      cell.textContent = cellText(value);
      cell.title = `z[${index}] = ${value}`;
      cell.dataset.value = String(value);
      Object.assign(cell.style, { background: cssColor(color), color: inkFor(color) });
    });
    for (const slider of sliders) {
      slider.input.value = String(result.latent[slider.index]);
      slider.value.textContent = fmt(result.latent[slider.index], 2);
    }
    image.src = `data:image/png;base64,${result.image_png_base64}`;
    clear(verdictText);
    if (result.verdict) verdictText.textContent = verdictSentence(result.verdict);
  }

  return { el: element, show, start: () => request({ seed: 0 }) };
}

function verdictSentence(verdict) {
  const percent = (100 * verdict.p_real).toFixed(1);
  return `Discriminator: ${percent}% "real" (logit ${fmt(verdict.logit, 2)}), so it calls this ${verdict.label}.`;
}

// One decimal, two under 0.1 (0.03, not fmt's 3.16e-2, which broke the grid's cell in two);
// the cell's title holds the exact number.
function cellText(value) {
  const text = value.toFixed(Math.abs(value) < 0.1 ? 2 : 1);
  return text === "-0.00" ? "0.00" : text;
}

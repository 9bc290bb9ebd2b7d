// The playgrounds' hyper-parameter sliders: one labelled range input per control, each writing
// its number into `settings` and calling `onChange`.
import { el } from "../detail/dom.js";

export function sliderControls(controls, settings, onChange) {
  const box = el("div", { class: "tsd-pg-controls" });
  for (const control of controls) {
    const output = el("output", { class: "tsd-pg-value" }, String(control.value));
    const input = el("input", {
      type: "range", min: control.min, max: control.max, step: 1, value: control.value,
      "data-control": control.key, "aria-label": control.label,
    });
    input.addEventListener("input", () => {
      settings[control.key] = Number(input.value);
      output.textContent = input.value;
      onChange();
    });
    box.append(el("label", { class: "tsd-pg-control", "data-part": control.term },
      el("span", {}, control.label), input, output));
  }
  return box;
}

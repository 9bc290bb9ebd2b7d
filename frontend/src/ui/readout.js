// The line that reads out the exact value under the pointer (or keyboard cursor).
// The element keeps the raw value and its position in data-* attributes for tests and tools.
import { el } from "../detail/dom.js";
import { formatValue } from "./format.js";

export function createReadout() {
  const text = el("span", { class: "ts-readout-text" });
  const element = el("output", { class: "ts-readout", "aria-live": "polite" }, text);
  const hint = "Hover a pixel to read its exact value.";

  function set(state, message, data = {}) {
    element.dataset.state = state;
    for (const key of ["node", "channel", "row", "col", "value"]) delete element.dataset[key];
    for (const [key, value] of Object.entries(data)) {
      if (value !== null && value !== undefined) element.dataset[key] = String(value);
    }
    text.textContent = message;
  }

  set("idle", hint);
  return {
    el: element,
    clear: () => set("idle", hint),
    pending: (node, where) => set("pending", `${node.name} ${where} …`),
    show: (node, where, value, position) => set("value",
      `${node.name} ${where} = ${formatValue(value)}  ·  click for the arithmetic`,
      { node: node.id, value, ...position }),
    failed: (message) => set("error", message),
  };
}

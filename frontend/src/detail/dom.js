// Small DOM helpers shared by the detail views and the playground.
import { fmt } from "../ui/format.js";

// el("div", {class: "x", onclick: f}, child, "text", [more children])
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(node.style, value);
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

// A number element that keeps the exact value in data-value for tests and tooltips.
export function num(value, attrs = {}) {
  return el("span", { class: "tsd-num", "data-value": value, title: String(value), ...attrs }, fmt(value));
}

export function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

// Hovering (or focusing) a [data-term] word in the text lights up every [data-part] of the
// same name in the view, and the other way round.
export function linkTerms(root) {
  // Every name on the way up from the hovered element: a softmax row's cell lights both the
  // logit column and the row's class.
  const names = (target) => {
    const found = [];
    for (let node = target; node && node !== root && root.contains(node); node = node.parentElement) {
      const name = node.dataset && (node.dataset.term || node.dataset.part);
      if (name) found.push(name);
    }
    return found.length ? found.join(" ") : null;
  };
  let lit = null;
  const light = (name) => {
    if (name === lit) return;
    if (lit) {
      for (const node of root.querySelectorAll(".tsd-linked")) node.classList.remove("tsd-linked");
    }
    lit = name;
    if (!name) return;
    for (const part of name.split(" ")) {
      for (const node of root.querySelectorAll(`[data-term~="${part}"],[data-part~="${part}"]`)) {
        node.classList.add("tsd-linked");
      }
    }
  };
  root.addEventListener("mouseover", (event) => light(names(event.target)));
  root.addEventListener("focusin", (event) => light(names(event.target)));
  root.addEventListener("mouseleave", () => light(null));
  root.addEventListener("focusout", () => light(null));
}

// A word in the explanation text that is linked to part(s) of the view.
export function term(name, text) {
  return el("span", { class: "tsd-term", "data-term": name, tabindex: 0 }, text);
}

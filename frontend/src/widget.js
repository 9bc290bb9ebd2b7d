// The anywidget module (Jupyter, VS Code, Colab): the same app over the widget's comm channel.
// The styles travel inside this file (a notebook can load one module only) and stay scoped to
// the widget's element.
import css from "tensorsight:css";
import { mount } from "./app.js";
import { commSource } from "./sources/comm.js";

function render({ model, el }) {
  const style = document.createElement("style");
  style.textContent = css;
  const root = document.createElement("div");
  root.className = "ts-widget";
  el.append(style, root);
  const source = commSource(model);
  const unmount = new AbortController();
  mount(root, source, { signal: unmount.signal });
  // anywidget calls this when the output goes away: release the app and the comm handler.
  return () => {
    unmount.abort();
    source.close();
    el.replaceChildren();
  };
}

export default { render };

// Receptive fields in the overview: hovering (or moving the keyboard cursor over) any cell of a
// map outlines, on the input image, the exact region that cell depends on. The boxes are worked
// out in Python from the captured graph (protocol method `receptive_field`: one table of rows and
// columns per layer, fetched once per run and layer). With "effective field" on, the input also
// shows the gradient of that one cell (`effective_receptive_field`): where inside the box it looks.
import { el } from "../detail/dom.js";
import "./attribution.css";

const EFFECTIVE_DELAY_MS = 120;   // the gradient is a model run: only for a cell the pointer rests on

export function createReceptiveOutline({ source, root, modelInfo }) {
  const inputId = modelInfo.nodes.find((node) => node.kind === "input")?.id;
  const tables = new Map();   // `${run}|${node}` -> Promise<{rows, cols, exact}>
  let shown = null;           // the hover being answered: older answers are dropped
  let timer = null;
  const effective = el("input", { type: "checkbox", class: "tsa-erf-toggle" });
  const toggle = el("label", { class: "tsa-erf" }, effective, " effective field");

  function clearBoxes() {
    clearTimeout(timer);
    for (const box of root.querySelectorAll(".tsa-rf-box, .tsa-erf-heat")) box.remove();
  }

  async function show(runId, hover) {
    shown = hover;
    clearBoxes();
    if (!source.receptiveField) return;   // a static copy of the page has no server to ask
    if (!runId || !hover || !inputId || hover.node.id === inputId || hover.node.shape.length !== 4) return;
    const key = `${runId}|${hover.node.id}`;
    if (!tables.has(key)) tables.set(key, source.receptiveField(runId, hover.node.id));
    let table;
    try {
      table = await tables.get(key);
    } catch {
      tables.delete(key);   // a hint only: the next hover asks again
      return;
    }
    if (shown !== hover) return;
    const [top, bottom] = table.rows[hover.row];
    const [left, right] = table.cols[hover.col];
    if (top > bottom || left > right) return;
    const [, , height, width] = modelInfo.nodes.find((node) => node.id === inputId).shape;
    const inputs = [...root.querySelectorAll(`canvas.ts-map[data-node="${inputId}"]`)];
    for (const canvas of inputs) {
      outline(canvas, { top, left, bottom, right, height, width, exact: table.exact });
    }
    if (effective.checked) {
      timer = setTimeout(() => showEffective(runId, hover, inputs), EFFECTIVE_DELAY_MS);
    }
  }

  async function showEffective(runId, hover, inputs) {
    let pack;
    try {
      pack = await source.effectiveReceptiveField(runId, hover.node.id, hover.row, hover.col, hover.channel);
    } catch {
      return;
    }
    if (shown !== hover) return;
    const { heat } = pack.arrays;
    const [rows, cols] = heat.shape;
    const peak = pack.meta.max || 1;
    for (const canvas of inputs) {
      const layer = el("canvas", { class: "tsa-erf-heat", width: cols, height: rows,
        dataset: { max: String(pack.meta.max) } });
      const image = layer.getContext("2d").createImageData(cols, rows);
      for (let i = 0; i < rows * cols; i++) {
        image.data.set([255, 140, 0, Math.round(230 * Math.sqrt(heat.data[i] / peak))], i * 4);
      }
      layer.getContext("2d").putImageData(image, 0, 0);
      Object.assign(layer.style, { top: `${canvas.offsetTop + canvas.clientTop}px`,
        left: `${canvas.offsetLeft + canvas.clientLeft}px`, width: `${canvas.clientWidth}px`,
        height: `${canvas.clientHeight}px` });
      canvas.parentElement.append(layer);
    }
  }

  return { show, clear: clearBoxes, toggle };
}

function outline(canvas, { top, left, bottom, right, height, width, exact }) {
  const cell = canvas.parentElement;
  if (getComputedStyle(cell).position === "static") cell.style.position = "relative";
  const scaleY = canvas.clientHeight / height;
  const scaleX = canvas.clientWidth / width;
  const box = document.createElement("div");
  box.className = "tsa-rf-box";
  Object.assign(box.dataset, { top: String(top), left: String(left), bottom: String(bottom),
    right: String(right), exact: String(exact) });
  Object.assign(box.style, {
    top: `${canvas.offsetTop + canvas.clientTop + top * scaleY}px`,
    left: `${canvas.offsetLeft + canvas.clientLeft + left * scaleX}px`,
    height: `${(bottom - top + 1) * scaleY}px`,
    width: `${(right - left + 1) * scaleX}px`,
  });
  box.title = `input rows ${top}–${bottom}, columns ${left}–${right}`;
  cell.append(box);
}

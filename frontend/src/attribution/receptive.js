// Receptive fields in the overview: hovering (or moving the keyboard cursor over) any cell of a
// map outlines, on the input image, the exact region that cell depends on. The boxes are worked
// out in Python from the captured graph (protocol method `receptive_field`: one table of rows and
// columns per layer, fetched once per run and layer).
import "./attribution.css";

export function createReceptiveOutline({ source, root, modelInfo }) {
  const inputId = modelInfo.nodes.find((node) => node.kind === "input")?.id;
  const tables = new Map();   // `${run}|${node}` -> Promise<{rows, cols, exact}>
  let shown = null;           // the hover being answered: older answers are dropped

  function clearBoxes() {
    for (const box of root.querySelectorAll(".tsa-rf-box")) box.remove();
  }

  async function show(runId, hover) {
    shown = hover;
    clearBoxes();
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
    for (const canvas of root.querySelectorAll(`canvas.ts-map[data-node="${inputId}"]`)) {
      outline(canvas, { top, left, bottom, right, height, width, exact: table.exact });
    }
  }

  return { show, clear: clearBoxes };
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

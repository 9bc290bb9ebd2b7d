// Fallback for kinds without a dedicated view: the layer's input and output (or whatever arrays
// its pack holds) with values on hover.
import { clear, el, num, term } from "./dom.js";
import { activationScale } from "./palette.js";
import { asMap, cellName, defineView, explain, figure } from "./view.js";
import { heatmap } from "./heatmap.js";

export const genericView = defineView("Layer", (frame, pack, ctx) => {
  const kind = (ctx.node && ctx.node.kind) || pack.meta.kind || "layer";
  const readout = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const row = el("div", { class: "tsd-maps" });
  const color = activationScale(...Object.values(pack.arrays).map((array) => array.data));
  for (const [name, array] of Object.entries(pack.arrays)) {
    if (array.data.length === 0) continue;
    const map = asMap(array);
    const hm = heatmap({
      rows: map.rows, cols: map.cols, values: map.data, flat: map.flat,
      color, size: 200, part: name, label: name,
      onCell: (r, c) => {
        hm.mark("cursor", [{ r, c, kind: "cursor" }]);
        clear(readout).append(el("div", { class: "tsd-formula-line" },
          `${name} ${cellName(map, r, c)} = `, num(map.data[r * map.cols + c], { "data-part": name })));
      },
    });
    row.append(figure(`${name} (${array.shape.join(" × ")})`, hm.el));
  }
  frame.views.append(row, readout);
  explain(frame,
    [`This ${kind} layer has no step-by-step view yet. The maps show its real `,
      term("input", "input"), " and ", term("output", "output"), " values for this channel: hover a cell to read one."]);
});

// Max / average pooling: the window on the input that produced the hovered output cell, and
// max(patch) = y or mean(patch) = y with the patch's real values. The windows and the cell
// max pooling picked come with the pack (./windows.js reads them).
import { clear, el, num, term } from "./dom.js";
import { activationScale } from "./palette.js";
import { asMap, defineView, explain, figure, numberGrid, operator, pair } from "./view.js";
import { heatmap } from "./heatmap.js";
import { valuesAt, windows } from "./windows.js";

function pooling(kind) {
  const isMax = kind === "max_pool2d";
  const title = isMax ? "Max pooling" : kind === "adaptive_avg_pool2d" ? "Adaptive average pooling" : "Average pooling";
  return defineView(title, (frame, pack) => {
    const { meta } = pack;
    const input = asMap(pack.arrays.input);
    const output = asMap(pack.arrays.output);
    const adaptive = kind.startsWith("adaptive") || meta.kernel_size === undefined;
    const kernel = pair(meta.kernel_size, 1);
    const stride = pair(meta.stride ?? meta.kernel_size, 1);
    const padding = pair(meta.padding, 0);
    const tables = windows(pack.arrays.rows, pack.arrays.cols);
    const color = activationScale(input.data, output.data);
    const inputMap = heatmap({
      rows: input.rows, cols: input.cols, values: input.data, color, size: 220,
      pad: adaptive ? 0 : Math.max(...padding), part: "input window", label: "input",
    });
    const formula = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
    const outputMap = heatmap({
      rows: output.rows, cols: output.cols, values: output.data, color, size: 160, part: "output",
      label: "output (arrow keys move the window)",
      onCell: (i, j) => show(i, j),
    });

    function show(i, j) {
      inputMap.mark("window", tables.marks(i, j));
      outputMap.mark("cursor", [{ r: i, c: j, kind: "cursor" }]);
      outputMap.setCursor(i, j);
      const cells = tables.cells(i, j);
      const patch = valuesAt(input, cells);
      const winner = isMax ? pack.arrays.argmax.data[i * output.cols + j] : -1;
      const best = cells.findIndex(([r, c]) => r * input.cols + c === winner);
      const [rows, cols] = tables.shape(i, j);
      const [[top, left], [bottom, right]] = [cells[0], cells[cells.length - 1]];
      const grid = numberGrid({
        rows, cols, part: "input window", label: "values under the window",
        cells: (r, c) => {
          const index = r * cols + c;
          const value = patch[index];
          if (value === null) {
            const countsAsZero = !isMax && meta.count_include_pad !== false;
            return { value: countsAsZero ? 0 : "–", cls: "tsd-cell-pad", label: countsAsZero ? "padding: 0, counted" : "padding: not counted" };
          }
          return { value, color: color(value), cls: index === best ? "tsd-cell-best" : "", label: String(value) };
        },
      });
      const y = output.data[i * output.cols + j];
      clear(formula).append(
        el("div", { class: "tsd-formula-where" }, `output [${i}, ${j}] ← input rows ${top}..${bottom}, columns ${left}..${right}`),
        el("div", { class: "tsd-formula", "data-role": "formula" },
          el("span", { class: "tsd-fn" }, isMax ? "max" : "mean"), grid.el, operator("="),
          el("div", { class: "tsd-result", "data-part": "output" }, num(y, { "data-role": "y" }))));
    }

    frame.views.append(el("div", { class: "tsd-maps" },
      figure("input", inputMap.el), operator("→"), figure("output", outputMap.el)), formula);
    show(0, 0);
    const shape = adaptive ? `windows sized to give a ${output.rows}×${output.cols} output`
      : `a ${kernel[0]}×${kernel[1]} window that moves ${stride[0]} cell${stride[0] === 1 ? "" : "s"} at a time${padding[0] || padding[1] ? ` over an input padded by ${padding[0]}` : ""}`;
    explain(frame,
      [`${title} shrinks each channel on its own, using ${shape}. Each `, term("output", "output"), " value is the ",
        isMax ? "largest" : "average", " of the input values under the ", term("window", "window"), "."],
      [isMax ? "Only the largest value in the window survives (outlined); the others do not affect the output at all."
        : "Every value in the window counts equally.",
      " Hover the output, or focus it and use the arrow keys, to move the window."]);
  });
}

export const maxPoolView = pooling("max_pool2d");
export const avgPoolView = pooling("avg_pool2d");
export const adaptiveAvgPoolView = pooling("adaptive_avg_pool2d");

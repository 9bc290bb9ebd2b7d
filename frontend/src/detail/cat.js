// Concatenation along channels: which source tensor each output channel range comes from, and
// the chosen channel's map (copied unchanged from its source).
import { clear, el, num, term } from "./dom.js";
import { heatmap } from "./heatmap.js";
import { activationScale } from "./palette.js";
import { asMap, cellName, defineView, explain, figure, nodeById } from "./view.js";

export const catView = defineView("Concatenation", (frame, pack, ctx) => {
  const { dim, sources = [] } = pack.meta;
  const channel = pack.meta.channel ?? ctx.channel ?? 0;
  const total = sources.length ? sources[sources.length - 1].stop : 0;
  const ranges = el("div", { class: "tsd-cat-ranges", role: "list" });
  // Which source channel this one copies: the server says (meta.origin).
  const origin = pack.meta.origin;
  const nameOf = (id) => (nodeById(ctx, id) || {}).name || id;
  const from = origin ? { name: nameOf(origin.node), channel: origin.channel } : null;
  sources.forEach((source, index) => {
    const name = nameOf(source.node);
    const holds = Boolean(origin) && index === origin.source;
    ranges.append(el("div", {
      class: `tsd-cat-range${holds ? " tsd-cat-current" : ""}`, role: "listitem", "data-part": `source source-${index}`,
      style: { flexGrow: String(Math.max(source.stop - source.start, 1)) },
      title: `${name}: channels ${source.start}..${source.stop - 1}`,
    }, el("strong", {}, name), el("small", {}, `${source.start}–${source.stop - 1}`)));
  });
  const readout = el("div", { class: "tsd-formula-box", "aria-live": "polite" });
  const output = asMap(pack.arrays.output);
  const map = heatmap({
    rows: output.rows, cols: output.cols, values: output.data, flat: output.flat, size: 200,
    color: activationScale(output.data), part: "output", label: `output channel ${channel}`,
    onCell: (r, c) => {
      map.mark("cursor", [{ r, c, kind: "cursor" }]);
      clear(readout).append(el("div", { class: "tsd-formula-line" },
        `output channel ${channel} ${cellName(output, r, c)} = `, num(output.data[r * output.cols + c]),
        from ? ` = ${from.name} channel ${from.channel} ${cellName(output, r, c)}` : ""));
    },
  });
  const axis = dim === 0 ? "the channel axis" : `dimension ${dim}`;
  frame.views.append(figure(`${total} output ${dim === 0 ? "channels" : "slices"} along ${axis}`, ranges),
    el("div", { class: "tsd-maps" }, figure(`output channel ${channel}`, map.el)), readout);
  explain(frame,
    ["Concatenation computes nothing: it stacks its ", term("source", "sources"),
      ` one after another along ${axis}, so each source keeps its own range of ${dim === 0 ? "channel numbers" : "positions"}.`],
    [from ? `Output channel ${channel} is channel ${from.channel} of ${from.name}, copied unchanged into the `
      : "This channel's ", term("output", "output"), "."]);
});

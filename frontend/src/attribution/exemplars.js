// Channel exemplars in a detail view: the images of the test set that excite this channel most,
// each cropped to the receptive field of the cell where it peaked (written by `tensorsight train`
// or `tensorsight exemplars`; served by the protocol's `channel_exemplars`).
import { el } from "../detail/dom.js";
import "./attribution.css";

const SCALE = 4;
const WAIT_MS = 10000;

// The detail frame, once the view has drawn it.
async function detailFrame(container) {
  const started = performance.now();
  while (performance.now() - started < WAIT_MS) {
    const text = container.querySelector(".tsd-detail");
    if (text) return text;
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return null;
}   // crops are a few pixels wide: draw them large, pixels kept sharp

// Appends the exemplars of (node, channel) below the detail frame's body in `container` (the
// views redraw their own text column, so the section lives beside it),
// when the model has exemplars for that layer (`layers`: names from `exemplar_layers`).
export async function attachExemplars(container, { source, runId, node, channel, layers }) {
  if (!layers.includes(node.name)) return;
  const pack = await source.exemplars(runId, node.id, channel);
  const text = await detailFrame(container);
  if (!text) return;
  const { crops } = pack.arrays;
  const [count, height, width, colours] = crops.shape;
  const grid = el("div", { class: "tsa-exemplars", dataset: { count: String(count) } });
  for (let index = 0; index < count; index++) {
    const entry = pack.meta.entries[index];
    const canvas = el("canvas", { class: "tsa-exemplar", width, height,
      title: `image ${entry.image}, peak ${entry.value.toFixed(3)} at (${entry.y}, ${entry.x})` });
    canvas.style.width = `${width * SCALE}px`;
    canvas.style.height = `${height * SCALE}px`;
    const image = canvas.getContext("2d").createImageData(width, height);
    for (let i = 0; i < height * width; i++) {
      const offset = (index * height * width + i) * colours;
      const [r, g, b] = colours === 1 ? [crops.data[offset], crops.data[offset], crops.data[offset]]
        : [crops.data[offset], crops.data[offset + 1], crops.data[offset + 2]];
      image.data.set([r, g, b, 255], i * 4);
    }
    canvas.getContext("2d").putImageData(image, 0, 0);
    grid.append(canvas);
  }
  text.append(el("section", { class: "tsa-exemplar-section" },
    el("h3", {}, "What this channel responds to"),
    el("p", { class: "ts-note" }, `The ${count} images of ${pack.meta.source} that excite channel ${channel} most, each cut to the input region its strongest cell sees.`),
    grid));
}

// Choosing the image: the model's bundled samples as a strip of thumbnails (one click each) and
// an upload of your own picture (file picker or drag and drop anywhere on the drop zone).
import { clear, el } from "../detail/dom.js";

// uploadsOff: a sentence saying why uploads are off (a static copy of the site), shown instead
// of the drop zone.
export function createPicker({ onSample, onUpload, uploadsOff = null }) {
  const strip = el("div", { class: "ts-samples", role: "group", "aria-label": "Sample images" });
  const fileInput = el("input", {
    type: "file", accept: "image/*", class: "ts-file-input", id: "ts-file-input",
    onchange: () => {
      const [file] = fileInput.files;
      if (file) onUpload(file);
      fileInput.value = "";
    },
  });
  const drop = el("label", { class: "ts-drop", for: "ts-file-input" },
    el("strong", {}, "Upload an image"),
    el("span", {}, "choose a file or drop it here"));
  const zone = el("div", { class: "ts-upload" }, fileInput, drop);
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("ts-dragging");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("ts-dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("ts-dragging");
    const file = [...(event.dataTransfer?.files || [])][0];
    if (file) onUpload(file);
  });

  let buttons = new Map();
  return {
    el: el("div", { class: "ts-picker" }, strip,
      uploadsOff ? el("p", { class: "ts-note ts-uploads-off", role: "note" }, uploadsOff) : zone),
    setSamples(samples) {
      clear(strip);
      buttons = new Map();
      for (const sample of samples) {
        const button = el("button", {
          type: "button", class: "ts-sample", title: sample.label, dataset: { sample: sample.id },
          "aria-label": `Sample: ${sample.label} (${sample.id})`, "aria-pressed": "false",
          onclick: () => onSample(sample.id),
        }, el("img", { src: sample.url, alt: "", width: 48, height: 48, draggable: "false" }));
        buttons.set(sample.id, button);
        strip.append(button);
      }
      if (!samples.length) strip.append(el("p", { class: "ts-note" }, "This model has no samples: upload an image."));
    },
    // Marks which sample is shown (null: an upload or nothing).
    setCurrent(sampleId) {
      for (const [id, button] of buttons) button.setAttribute("aria-pressed", String(id === sampleId));
    },
  };
}

// Saving what is on screen as a picture: SVG (the element as it is drawn, numbers kept as text)
// or PNG (that SVG rendered at twice the size, so small numbers stay legible). Canvases become
// embedded images; the page's own stylesheets travel inside the SVG, so it looks the same.
const PNG_SCALE = 2;
const XHTML = "http://www.w3.org/1999/xhtml";

// An SVG document (a string) showing `element` whole, as wide and tall as its content.
export function elementSvg(element, { wrapperClass = "ts-app" } = {}) {
  const width = Math.ceil(Math.max(element.scrollWidth, element.getBoundingClientRect().width));
  const height = Math.ceil(Math.max(element.scrollHeight, element.getBoundingClientRect().height));
  const copy = element.cloneNode(true);
  inlineCanvases(element, copy);
  copy.style.width = `${width}px`;
  copy.style.height = `${height}px`;
  copy.style.overflow = "visible";
  copy.style.margin = "0";
  const wrapper = document.createElementNS(XHTML, "div");
  wrapper.setAttribute("class", wrapperClass);
  wrapper.setAttribute("style", `width:${width}px;height:${height}px;min-height:0;background:#fff;`);
  wrapper.append(copy);
  const style = document.createElementNS(XHTML, "style");
  style.textContent = pageCss();
  const html = new XMLSerializer().serializeToString(wrapper);
  const css = new XMLSerializer().serializeToString(style);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`
    + `<foreignObject x="0" y="0" width="${width}" height="${height}">${css}${html}</foreignObject></svg>`;
}

// A PNG Blob of the same picture, PNG_SCALE times the CSS size.
export async function elementPng(element, options) {
  const svg = elementSvg(element, options);
  const image = new Image();
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(image.width * PNG_SCALE);
  canvas.height = Math.round(image.height * PNG_SCALE);
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("The picture could not be encoded."))), "image/png"));
}

// Offers `blob` as a file download named `name`.
export function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.style.display = "none";
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// Two buttons, "PNG" and "SVG", that save what `target()` returns under `name`.png / .svg.
export function saveButtons(target, name, { className = "ts-save" } = {}) {
  const holder = document.createElement("span");
  holder.className = `${className}-buttons`;
  holder.setAttribute("role", "group");
  holder.setAttribute("aria-label", "Save as a picture");
  const label = document.createElement("span");
  label.className = `${className}-label`;
  label.textContent = "Save";
  holder.append(label);
  for (const format of ["png", "svg"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = className;
    button.dataset.format = format;
    button.textContent = format.toUpperCase();
    button.title = `Save ${format === "png" ? "a PNG picture" : "an SVG drawing"} of this view`;
    button.addEventListener("click", async () => {
      const element = target();
      if (!element) return;
      const fileName = `${typeof name === "function" ? name() : name}.${format}`;
      const blob = format === "svg"
        ? new Blob([elementSvg(element)], { type: "image/svg+xml" })
        : await elementPng(element);
      download(blob, fileName);
    });
    holder.append(button);
  }
  return holder;
}

// Canvases do not survive cloneNode: replace each copy by an <img> of the original's pixels.
function inlineCanvases(original, copy) {
  const sources = original.querySelectorAll("canvas");
  const targets = copy.querySelectorAll("canvas");
  sources.forEach((canvas, index) => {
    const image = document.createElementNS(XHTML, "img");
    for (const attribute of canvas.attributes) image.setAttribute(attribute.name, attribute.value);
    const box = canvas.getBoundingClientRect();
    image.setAttribute("src", canvas.toDataURL("image/png"));
    image.style.width = `${box.width}px`;
    image.style.height = `${box.height}px`;
    targets[index].replaceWith(image);
  });
}

// Every rule of the page's stylesheets that can be read (ours are all same-origin).
function pageCss() {
  const rules = [];
  for (const sheet of document.styleSheets) {
    try {
      for (const rule of sheet.cssRules) rules.push(rule.cssText);
    } catch {
      // a cross-origin sheet (a notebook's theme): not ours, not needed
    }
  }
  return rules.join("\n");
}

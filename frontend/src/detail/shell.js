// The frame every detail view (and the playground) lives in: a title bar with a close button,
// the view area, and the explanation text beside it. Escape, the close button and a click
// outside the frame all close it; a docked frame (modal: false) stays open while the user
// clicks the page beside it.
import { el, linkTerms } from "./dom.js";
import "./detail.css";

// Builds the frame inside `container`; `close` is called once, whichever way the user closes.
export function openFrame(container, { title, subtitle = "", close, className = "", modal = true }) {
  const cleanups = [];
  let closed = false;
  // Keyboard users go back to where they opened the view from.
  const opener = document.activeElement;
  const closeButton = el("button", { class: "tsd-close", type: "button", "aria-label": `Close ${title}` }, "×");
  const views = el("div", { class: "tsd-detail-views" });
  const text = el("aside", { class: "tsd-detail-text" });
  const frame = el("section", {
    class: `tsd-detail ${className}`.trim(), role: "dialog", "aria-label": title, tabindex: -1,
  },
  el("header", { class: "tsd-detail-head" },
    el("h2", {}, title),
    subtitle ? el("span", { class: "tsd-detail-sub" }, subtitle) : null,
    closeButton),
  el("div", { class: "tsd-detail-body" }, views, text));

  function destroy() {
    if (closed) return;
    closed = true;
    for (const cleanup of cleanups.splice(0)) cleanup();
  }
  function requestClose() {
    if (closed) return;
    destroy();
    if (close) close();
    else frame.remove();
    if (opener && opener.isConnected && opener.focus) opener.focus({ preventScroll: true });
  }
  function listen(target, type, handler, options) {
    target.addEventListener(type, handler, options);
    cleanups.push(() => target.removeEventListener(type, handler, options));
  }

  closeButton.addEventListener("click", requestClose);
  // Document listeners remove themselves if the host dropped the frame without closing it.
  const whileShown = (handler) => (event) => {
    if (!frame.isConnected) destroy();
    else handler(event);
  };
  listen(document, "keydown", whileShown((event) => {
    if (event.key === "Escape" && !event.defaultPrevented) {
      event.preventDefault();
      requestClose();
    }
  }));
  if (modal) {
    listen(document, "pointerdown", whileShown((event) => {
      if (!frame.contains(event.target) && event.target.isConnected) requestClose();
    }), true);
  }

  linkTerms(frame);
  container.append(frame);
  frame.focus({ preventScroll: true });
  return {
    frame, views, text, close: requestClose, destroy,
    onDestroy: (cleanup) => cleanups.push(cleanup),
    listen,
  };
}

// The GAN session's WebSocket: {id, method, params} requests resolved by {id, ok, result|error}
// replies; binary messages are frames (packs) handed to onFrame as they come.
import { decodePack } from "../wire.js";

export function ganSocket(url, { onFrame, onClose }) {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const pending = new Map();
  let next = 0;
  const stats = { frames: 0, bytes: 0 };
  const opened = new Promise((resolve, reject) => {
    ws.addEventListener("open", resolve, { once: true });
    ws.addEventListener("error", () => reject(new Error("The GAN connection failed.")), { once: true });
  });
  ws.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      stats.frames++;
      stats.bytes += event.data.byteLength;
      onFrame(decodePack(event.data));
      return;
    }
    const reply = JSON.parse(event.data);
    const waiter = pending.get(reply.id);
    if (waiter) {
      pending.delete(reply.id);
      if (reply.ok) waiter.resolve(reply.result); else waiter.reject(new Error(reply.error));
    } else if (!reply.ok) {
      onClose?.(reply.error);   // a refusal before any request (session limit, bad preset)
    }
  });
  ws.addEventListener("close", () => {
    for (const waiter of pending.values()) waiter.reject(new Error("The GAN connection closed."));
    pending.clear();
    onClose?.(null);
  });
  return {
    async request(method, params = {}) {
      await opened;
      const id = `g${++next}`;
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      });
    },
    close: () => ws.close(),
    stats,
  };
}

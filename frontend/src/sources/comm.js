// Data source over an anywidget model (Jupyter): each call sends {id, method, params} as a custom
// message and resolves on the {id, ok, result | error} reply; packs and PNGs come back as the
// reply's first buffer. Method names and params are the Explainer's (docs/architecture.md). The
// kernel answers progress polls while a long attribution runs (jupyter/widget.py).
import { decodePack } from "../wire.js";
import { SourceError } from "./http.js";

export function commSource(model) {
  let nextId = 0;
  const pending = new Map();
  const urls = [];   // the samples' object URLs, released on close

  const onMessage = (message, buffers) => {
    const waiting = message && pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.ok) waiting.resolve({ result: message.result, buffer: buffers?.[0] });
    else waiting.reject(new SourceError(message.error || "The kernel reported an error.", message.status || 0));
  };
  model.on("msg:custom", onMessage);

  function call(method, params = {}, buffers = []) {
    const id = `ts${nextId++}`;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      model.send({ id, method, params }, undefined, buffers);
    });
  }

  const toArrayBuffer = (view) => (view instanceof ArrayBuffer ? view
    : view.buffer.slice(view.byteOffset, view.byteOffset + view.byteLength));
  const pack = async (method, params) => decodePack(toArrayBuffer((await call(method, params)).buffer));
  const result = async (method, params, buffers) => (await call(method, params, buffers)).result;

  return {
    // Stops listening to the kernel; answers still on their way are dropped.
    close() {
      model.off("msg:custom", onMessage);
      pending.clear();
      for (const url of urls.splice(0)) URL.revokeObjectURL(url);
    },
    modelInfo: () => result("model_info"),
    async samples() {
      const samples = await result("samples");
      return Promise.all(samples.map(async (sample) => {
        const { buffer } = await call("sample_png", { sample_id: sample.id });
        const url = URL.createObjectURL(new Blob([buffer], { type: "image/png" }));
        urls.push(url);
        return { ...sample, url };
      }));
    },
    runSample: (id) => result("run_sample", { sample_id: id }),
    async runUpload(blob) {
      return result("run_image", {}, [await blob.arrayBuffer()]);
    },
    runLatent: (params) => result("run_latent", params),
    async judgeUpload(blob) {
      return result("judge_image", {}, [await blob.arrayBuffer()]);
    },
    overview: (runId) => result("overview", { run_id: runId }),
    activations: (runId, nodeIds, { channels = null, encoding = "u8" } = {}) =>
      pack("activations", { run_id: runId, node_ids: nodeIds, channels, encoding }),
    detail: (runId, nodeId, channel) => pack("detail", { run_id: runId, node_id: nodeId, channel }),
    terms: (runId, nodeId, channel, row, col) => pack("terms", { run_id: runId, node_id: nodeId, channel, row, col }),
    attribution: (runId, params) => pack("attribution", { run_id: runId, ...params }),
    gradcamStages: (runId, target) => pack("gradcam_stages", { run_id: runId, target }),
    exemplarLayers: () => result("exemplar_layers"),
    receptiveField: (runId, nodeId) => result("receptive_field", { run_id: runId, node_id: nodeId }),
    effectiveReceptiveField: (runId, nodeId, y, x, channel) => pack("effective_receptive_field",
      { run_id: runId, node_id: nodeId, y, x, channel }),
    exemplars: (runId, nodeId, channel) => pack("channel_exemplars", { run_id: runId, node_id: nodeId, channel }),
    attributionProgress: (jobId) => result("attribution_progress", { job_id: jobId }),
    cancelAttribution: (jobId) => result("attribution_cancel", { job_id: jobId }),
  };
}

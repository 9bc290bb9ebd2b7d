// Data source over the HTTP API (docs/architecture.md, "HTTP API"): what the page uses.
import { decodePack } from "../wire.js";

export class SourceError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.name = "SourceError";
    this.status = status;
  }
}

export function httpSource(base = "") {
  const url = (path) => `${base}${path}`;

  async function request(path, init = {}) {
    let response;
    try {
      response = await fetch(url(path), init);
    } catch (error) {
      throw new SourceError(`The server did not answer (${error.message}). Is tensorsight serve still running?`);
    }
    if (!response.ok) throw new SourceError(await errorSentence(response), response.status);
    return response;
  }

  const json = async (path, init) => (await request(path, init)).json();
  const pack = async (path) => decodePack(await (await request(path)).arrayBuffer());

  return {
    modelInfo: () => json("/api/model"),
    samples: () => json("/api/samples"),
    runSample: (id) => json("/api/runs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sample: id }),
    }),
    runUpload(blob) {
      const form = new FormData();
      form.append("image", blob, blob.name || "upload");
      return json("/api/runs", { method: "POST", body: form });
    },
    // Generators: run a latent vector ({z} or {seed}); ask the discriminator about a photo.
    runLatent: (params) => json("/api/latent-runs", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(params),
    }),
    judgeUpload(blob) {
      const form = new FormData();
      form.append("image", blob, blob.name || "upload");
      return json("/api/verdicts", { method: "POST", body: form });
    },
    activations(runId, nodeIds, { channels = null, encoding = "u8" } = {}) {
      const query = new URLSearchParams({ nodes: nodeIds.join(","), encoding });
      if (channels) query.set("channels", `${channels[0]}:${channels[1]}`);
      return pack(`/api/runs/${encodeURIComponent(runId)}/activations?${query}`);
    },
    detail: (runId, nodeId, channel) => pack(
      `/api/runs/${encodeURIComponent(runId)}/nodes/${encodeURIComponent(nodeId)}/detail?channel=${channel}`),
    terms: (runId, nodeId, channel, row, col) => pack(
      `/api/runs/${encodeURIComponent(runId)}/nodes/${encodeURIComponent(nodeId)}/terms?${new URLSearchParams({ channel, row, col })}`),
    // Attribution (docs/architecture.md, "Attribution"): params are the protocol's, as strings.
    attribution: (runId, params) => pack(
      `/api/runs/${encodeURIComponent(runId)}/attribution?${new URLSearchParams(params)}`),
    gradcamStages: (runId, target) => pack(
      `/api/runs/${encodeURIComponent(runId)}/gradcam_stages?${new URLSearchParams({ target })}`),
    exemplarLayers: () => json("/api/exemplars"),
    receptiveField: (runId, nodeId) => json(
      `/api/runs/${encodeURIComponent(runId)}/nodes/${encodeURIComponent(nodeId)}/receptive_field`),
    effectiveReceptiveField: (runId, nodeId, y, x, channel) => pack(
      `/api/runs/${encodeURIComponent(runId)}/nodes/${encodeURIComponent(nodeId)}/effective_receptive_field?${new URLSearchParams({ y, x, channel })}`),
    exemplars: (runId, nodeId, channel) => pack(
      `/api/runs/${encodeURIComponent(runId)}/nodes/${encodeURIComponent(nodeId)}/exemplars?channel=${channel}`),
    attributionProgress: (jobId) => json(`/api/attribution/jobs/${encodeURIComponent(jobId)}`),
    cancelAttribution: (jobId) => json(`/api/attribution/jobs/${encodeURIComponent(jobId)}/cancel`,
      { method: "POST" }),
  };
}

// The server's {"error": sentence}, or the status line when the body is not that.
async function errorSentence(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    if (body && typeof body.error === "string") return body.error;
  } catch {
    // not JSON: fall through to the status line
  }
  return `The server answered ${response.status} ${response.statusText}`.trim() + ".";
}

// Data source over a static copy of the site (`tensorsight export DIR`): the same answers as the
// HTTP API, read from plain files, so any static host serves the explainer with no Python. The
// layout is documented in src/tensorsight/export/site.py; packs are gzipped and unzipped here.
import { decodePack } from "../wire.js";
import { SourceError } from "./http.js";

export const UPLOADS_OFF = "This is a static copy of the explainer: no Python runs here to put a new image "
  + "through the model. Run `tensorsight serve` to explain your own images.";

// Kinds whose detail pack is about the whole tensor: one file serves every channel.
const WHOLE_TENSOR_KINDS = new Set(["flatten", "reshape", "softmax"]);
const WINDOW = 16;   // channels per activation file (WINDOW in export/site.py)

export function staticSource(base = "data/") {
  const nodes = new Map();   // node id -> node, once model.json is read
  const details = new Map(); // "run|node|channel" -> Promise of the decoded detail pack
  const shared = new Map();  // detail folder -> Promise of the arrays its channels' packs share

  async function fetchFile(path, what) {
    let response;
    try {
      response = await fetch(`${base}${path}`);
    } catch (error) {
      throw new SourceError(`Could not read ${what} (${error.message}).`);
    }
    if (!response.ok) {
      throw new SourceError(response.status === 404
        ? `This static copy does not hold ${what}: it was exported with fewer channels. Run \`tensorsight serve\` to explore every channel.`
        : `Reading ${what} failed: ${response.status} ${response.statusText}.`, response.status);
    }
    return response;
  }

  const json = async (path, what) => (await fetchFile(path, what)).json();

  async function pack(path, what) {
    const bytes = await (await fetchFile(`${path}.gz`, what)).arrayBuffer();
    return decodePack(await gunzip(bytes));
  }

  // One node's activations: u8 windows of 16 channels, f32 one channel (or a whole vector).
  async function nodeActivations(runId, nodeId, channels, encoding) {
    const node = nodes.get(nodeId);
    const perChannel = node && node.shape.length === 4;
    let file;
    if (encoding === "u8") file = perChannel ? Math.floor((channels ? channels[0] : 0) / WINDOW) * WINDOW : 0;
    else file = perChannel ? (channels ? channels[0] : 0) : "all";
    const path = `runs/${encodeURIComponent(runId)}/${encoding}/${encodeURIComponent(nodeId)}/${file}.pack`;
    return pack(path, `the ${encoding === "f32" ? "exact values" : "maps"} of ${node ? node.name : nodeId}`);
  }

  return {
    static: true,
    canUpload: false,
    uploadsOff: UPLOADS_OFF,
    async modelInfo() {
      const info = await json("model.json", "the model");
      for (const node of info.nodes) nodes.set(node.id, node);
      return info;
    },
    samples: async () => (await json("samples.json", "the samples")).map(
      (sample) => ({ ...sample, url: sample.url })),
    runSample: (id) => json(`runs/${encodeURIComponent(id)}.json`, `the run of sample ${id}`),
    overview: (runId) => json(`runs/${encodeURIComponent(runId)}.json`, `run ${runId}`),
    async runUpload() {
      throw new SourceError(UPLOADS_OFF, 405);
    },
    async activations(runId, nodeIds, { channels = null, encoding = "u8" } = {}) {
      const parts = await Promise.all(nodeIds.map((id) => nodeActivations(runId, id, channels, encoding)));
      const merged = { meta: { nodes: {} }, arrays: {} };
      for (const part of parts) {
        Object.assign(merged.meta.nodes, part.meta.nodes);
        Object.assign(merged.arrays, part.arrays);
      }
      return merged;
    },
    detail,
    // One convolution window term by term. A site holding every window would be Cin·kh·kw
    // times each output map, so the terms are read off the exported detail pack instead: the
    // patch is the real input under the window, each product one float32 multiplication (as
    // exact as the server's), and each channel's sum the model's own intermediate value.
    async terms(runId, nodeId, channel, row, col) {
      return windowTerms(await detail(runId, nodeId, channel), row, col);
    },
  };

  function detail(runId, nodeId, channel) {
    const node = nodes.get(nodeId);
    const file = node && WHOLE_TENSOR_KINDS.has(node.kind) ? 0 : channel;
    const key = `${runId}|${nodeId}|${file}`;
    if (!details.has(key)) {
      const folder = `runs/${encodeURIComponent(runId)}/detail/${encodeURIComponent(nodeId)}`;
      const what = `the detail of ${node ? node.name : nodeId}, channel ${channel}`;
      const request = pack(`${folder}/${file}.pack`, what).then((part) => joinShared(part, folder, what));
      request.catch(() => details.delete(key));
      details.set(key, request);
    }
    return details.get(key);
  }

  // The export writes arrays that every channel's pack holds alike once (shared.pack, named in
  // meta.shared): put them back, so the views get the very pack the server answers.
  async function joinShared({ meta, arrays }, folder, what) {
    if (!meta.shared) return { meta, arrays };
    if (!shared.has(folder)) {
      const request = pack(`${folder}/shared.pack`, what);
      request.catch(() => shared.delete(folder));
      shared.set(folder, request);
    }
    const common = await shared.get(folder);
    const { shared: names, ...own } = meta;
    const joined = {};  // in the server's order: a convolution's input comes first
    for (const name of names) joined[name] = common.arrays[name];
    return { meta: own, arrays: Object.assign(joined, arrays) };
  }
}

// {arrays: {patch, products: [Cin, kh, kw], channel_sums: [Cin]}} of output (row, col), from a
// conv2d detail pack (input, kernel, intermediate and the window geometry in meta).
function windowTerms({ meta, arrays }, row, col) {
  if ((meta.padding_mode || "zeros") !== "zeros") {
    throw new SourceError(`This static copy shows window terms for zero padding only (this layer pads in ${meta.padding_mode} mode).`);
  }
  const [cin, rows, cols] = arrays.input.shape;
  const [, kh, kw] = arrays.kernel.shape;
  const [, outRows, outCols] = arrays.intermediate.shape;
  const [sh, sw] = meta.stride;
  const [dh, dw] = meta.dilation;
  const [top, left] = meta.padding;
  const patch = new Float32Array(cin * kh * kw);
  const products = new Float32Array(cin * kh * kw);
  const sums = new Float32Array(cin);
  for (let c = 0; c < cin; c++) {
    for (let r = 0; r < kh; r++) {
      for (let k = 0; k < kw; k++) {
        const y = row * sh - top + r * dh;
        const x = col * sw - left + k * dw;
        const at = (c * kh + r) * kw + k;
        patch[at] = y >= 0 && x >= 0 && y < rows && x < cols ? arrays.input.data[(c * rows + y) * cols + x] : 0;
        products[at] = Math.fround(patch[at] * arrays.kernel.data[at]);
      }
    }
    sums[c] = arrays.intermediate.data[(c * outRows + row) * outCols + col];
  }
  const array = (data, shape) => ({ dtype: "float32", shape, data });
  return {
    meta: { kind: "conv2d", channel: meta.channel, row, col, bias: meta.bias },
    arrays: { patch: array(patch, [cin, kh, kw]), products: array(products, [cin, kh, kw]), channel_sums: array(sums, [cin]) },
  };
}

// Gzip's magic number; a host that already unzipped the file (Content-Encoding) sends it plain.
async function gunzip(bytes) {
  const head = new Uint8Array(bytes, 0, Math.min(2, bytes.byteLength));
  if (head[0] !== 0x1f || head[1] !== 0x8b) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

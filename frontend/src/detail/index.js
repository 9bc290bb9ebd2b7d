// The detail views, one per layer kind. Each entry is {title, render(container, pack, ctx)}:
// `pack` is the decoded detail pack (or null: the view then fetches it with
// ctx.source.detail(ctx.runId, ctx.node.id, ctx.channel)); ctx = {source, runId, node, channel,
// modelInfo, overview, colors, close()}. render returns {destroy, close, frame}.
import { addView, mulView } from "./add.js";
import { batchNormView } from "./batch_norm.js";
import { catView } from "./cat.js";
import { conv2dView } from "./conv2d.js";
import { convTranspose2dView } from "./conv_transpose2d.js";
import { deformConv2dView } from "./deform_conv2d.js";
import { elementwiseView, elementwiseViews } from "./elementwise.js";
import { flattenView } from "./flatten.js";
import { genericView } from "./generic.js";
import { layerNormView } from "./layer_norm.js";
import { linearView } from "./linear.js";
import { meanView } from "./mean.js";
import { adaptiveAvgPoolView, avgPoolView, maxPoolView } from "./pool.js";
import { softmaxView } from "./softmax.js";
import { upsampleView } from "./upsample.js";

export const detailViews = {
  conv2d: conv2dView,
  deform_conv2d: deformConv2dView,
  ...elementwiseViews,
  max_pool2d: maxPoolView,
  avg_pool2d: avgPoolView,
  adaptive_avg_pool2d: adaptiveAvgPoolView,
  flatten: flattenView,
  reshape: flattenView,
  linear: linearView,
  softmax: softmaxView,
  batch_norm: batchNormView,
  add: addView,
  mul: mulView,
  cat: catView,
  conv_transpose2d: convTranspose2dView,
  upsample: upsampleView,
  layer_norm: layerNormView,
  mean: meanView,
  generic: genericView,
};

// Kinds whose packs carry an element-wise input/output pair but have no formula of their own.
const ELEMENTWISE_FALLBACK = new Set(["dropout", "identity"]);

// The view for a node kind; every kind gets one (the generic view at worst).
export function detailViewFor(kind) {
  if (detailViews[kind]) return detailViews[kind];
  if (ELEMENTWISE_FALLBACK.has(kind)) return elementwiseView(kind);
  return genericView;
}

// Render the right view for ctx.node: the one call a host needs.
export function openDetail(container, pack, ctx) {
  return detailViewFor(ctx.node && ctx.node.kind).render(container, pack, ctx);
}

// The model graph as the overview draws it: nodes grouped into display units (a node, or a
// collapsed module shown as one block), placed in columns by topological depth with parallel
// branches stacked as lanes, plus which channels feed a given neuron (as the server says).

const SMALL_MODEL_NODES = 30;   // models this small show every layer from the start
const MIN_UNITS = 6;            // larger models open their biggest blocks until this many units

function prefixes(group) {
  if (!group) return [];
  const parts = group.split(".");
  return parts.map((_, i) => parts.slice(0, i + 1).join("."));
}

function blockSizes(nodes) {
  const sizes = new Map();
  for (const node of nodes) {
    for (const prefix of prefixes(node.group)) sizes.set(prefix, (sizes.get(prefix) || 0) + 1);
  }
  return sizes;
}

// Units for the current set of expanded module prefixes, in topological order of their output.
export function buildUnits(nodes, expanded) {
  const sizes = blockSizes(nodes);
  const unitOf = new Map();
  const units = new Map();
  nodes.forEach((node, index) => {
    const block = prefixes(node.group).find((p) => !expanded.has(p) && sizes.get(p) >= 2);
    const key = block ? `block:${block}` : node.id;
    unitOf.set(node.id, key);
    if (!units.has(key)) {
      units.set(key, { key, block: block || null, nodes: [], inputs: [], order: 0 });
    }
    const unit = units.get(key);
    unit.nodes.push(node);
    unit.order = index;   // a unit shows its last node: the block's output
  });
  for (const unit of units.values()) {
    unit.node = unit.nodes[unit.nodes.length - 1];
    const inputs = new Set();
    for (const node of unit.nodes) {
      for (const input of node.inputs) {
        const source = unitOf.get(input);
        if (source && source !== unit.key) inputs.add(source);
      }
    }
    unit.inputs = [...inputs];
  }
  return { units: [...units.values()].sort((a, b) => a.order - b.order), unitOf };
}

// Whether the overview collapses modules into blocks at all (small models show every layer).
export function collapsesBlocks(nodes) {
  return nodes.length > SMALL_MODEL_NODES && nodes.some((node) => node.group);
}

// Expanded prefixes to start with: everything for small models; else the biggest block is
// opened, again and again, while the overview has too few units or one block holds more than
// a quarter of the network (MobileNetV2's `features` holds almost all of it).
export function initialExpanded(nodes) {
  const sizes = blockSizes(nodes);
  if (!collapsesBlocks(nodes)) return new Set(sizes.keys());
  const expanded = new Set();
  for (let guard = 0; guard < 64; guard++) {
    const { units } = buildUnits(nodes, expanded);
    const biggest = units.filter((u) => u.block).sort((a, b) => b.nodes.length - a.nodes.length)[0];
    if (!biggest || (units.length >= MIN_UNITS && biggest.nodes.length <= nodes.length / 4)) break;
    expanded.add(biggest.block);
  }
  return expanded;
}

// Columns of units: column = longest path from the input; lanes ordered by where their inputs sit.
export function layoutColumns(units) {
  const depth = new Map();
  const byKey = new Map(units.map((u) => [u.key, u]));
  for (const unit of units) {
    const before = unit.inputs.filter((k) => depth.has(k));
    depth.set(unit.key, before.length ? Math.max(...before.map((k) => depth.get(k))) + 1 : 0);
  }
  const columns = [];
  for (const unit of units) {
    const d = depth.get(unit.key);
    (columns[d] ||= []).push(unit);
  }
  const lane = new Map();
  for (const column of columns.filter(Boolean)) {
    const center = (unit) => {
      const lanes = unit.inputs.filter((k) => lane.has(k) && byKey.has(k)).map((k) => lane.get(k));
      return lanes.length ? lanes.reduce((a, b) => a + b, 0) / lanes.length : 0;
    };
    column.sort((a, b) => center(a) - center(b) || a.order - b.order);
    column.forEach((unit, i) => lane.set(unit.key, i));
  }
  return columns.filter(Boolean);
}

// Which (node, channels) feed channel `channel` of `node`: [{nodeId, channels: [..] | "all"}].
// The server works the relation out (model_info's `feeds`, tested against autograd); this only
// reads it: "all", "same" (the same channel), or one [start, stop) per output channel.
export function feeders(node, channel) {
  const found = [];
  for (const feed of node.feeds || []) {
    if (feed.channels === "all" || feed.channels === "same") {
      found.push({ nodeId: feed.node, channels: feed.channels === "all" ? "all" : [channel] });
      continue;
    }
    const [start, stop] = feed.channels[channel] || [0, 0];
    if (stop > start) found.push({ nodeId: feed.node, channels: range(start, stop) });
  }
  return found;
}

function range(start, stop) {
  return Array.from({ length: stop - start }, (_, i) => start + i);
}

// The colour "block" of a node: its module group, or, for flat models, the run of layers that
// ends at a pooling layer (CNN Explainer's units: conv-relu-conv-relu-pool).
export function colourBlocks(nodes) {
  const blockOf = new Map();
  let segment = 0;
  for (const node of nodes) {
    if (node.kind === "input") {
      blockOf.set(node.id, "input");
      continue;
    }
    const topGroup = node.group ? node.group.split(".").slice(0, 2).join(".") : null;
    blockOf.set(node.id, topGroup ? `group:${topGroup}` : `segment:${segment}`);
    if (!topGroup && /pool/.test(node.kind)) segment++;
  }
  return blockOf;
}

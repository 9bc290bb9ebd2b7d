// detail/windows.js against PyTorch: real detail packs (window tables from the server) beside
// torch's own answer for every window (fixtures/windows.json, written by make_fixtures.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { valuesAt, windows } from "../src/detail/windows.js";

const { cases } = JSON.parse(readFileSync(new URL("./fixtures/windows.json", import.meta.url)));
const TYPED = { int32: Int32Array, float32: Float32Array };

// A fixture array as decodePack returns it: {shape, data: typed array}.
function decoded({ dtype, shape, data }) {
  return { shape, data: TYPED[dtype].from(data) };
}

function readCase(name) {
  const arrays = Object.fromEntries(Object.entries(cases[name])
    .filter(([, value]) => value && value.dtype).map(([key, value]) => [key, decoded(value)]));
  const [rows, cols] = arrays.input.shape;
  const [outRows, outCols] = arrays.output.shape;
  return {
    ...cases[name], arrays, outRows, outCols,
    map: { rows, cols, data: arrays.input.data },
    tables: windows(arrays.rows, arrays.cols),
  };
}

function* positions({ outRows, outCols }) {
  for (let i = 0; i < outRows; i++) for (let j = 0; j < outCols; j++) yield [i, j];
}

const named = (prefix) => Object.keys(cases).filter((name) => name.startsWith(prefix));

for (const name of named("conv-")) {
  test(`${name}: every window reads the cells torch's unfold puts in its patch`, () => {
    const conv = readCase(name);
    for (const [i, j] of positions(conv)) {
      const patch = valuesAt(conv.map, conv.tables.cells(i, j)).map((v) => (v === null ? null : v));
      assert.deepEqual(patch, conv.patches[i * conv.outCols + j], `window [${i}, ${j}]`);
      const [down, across] = conv.tables.shape(i, j);
      assert.equal(down * across, patch.length);
    }
  });
}

for (const name of named("max-")) {
  test(`${name}: the max of every window is torch's output and its argmax lies inside`, () => {
    const pool = readCase(name);
    for (const [i, j] of positions(pool)) {
      const cells = pool.tables.cells(i, j);
      const values = valuesAt(pool.map, cells).filter((v) => v !== null);
      const at = i * pool.outCols + j;
      assert.equal(Math.max(...values), pool.arrays.output.data[at]);
      const winner = pool.arrays.argmax.data[at];
      assert.ok(cells.some(([r, c]) => r * pool.map.cols + c === winner), `argmax of [${i}, ${j}]`);
      assert.equal(pool.map.data[winner], pool.arrays.output.data[at]);
    }
  });
}

for (const name of [...named("avg-"), ...named("adaptive-")]) {
  test(`${name}: the mean of every window is torch's output`, () => {
    const pool = readCase(name);
    for (const [i, j] of positions(pool)) {
      const values = valuesAt(pool.map, pool.tables.cells(i, j));
      assert.ok(values.every((v) => v !== null), "these windows never touch padding");
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      assert.ok(Math.abs(mean - pool.arrays.output.data[i * pool.outCols + j]) < 1e-6);
    }
  });
}

test("marks: one box over the window, plus each tap when dilation spreads them", () => {
  const dilated = readCase("conv-dilated-rectangular");
  const [box, ...taps] = dilated.tables.marks(1, 1);
  const cells = dilated.tables.cells(1, 1);
  assert.equal(box.kind, "window");
  assert.deepEqual(taps.map(({ r, c }) => [r, c]), cells);
  for (const [r, c] of cells) {
    assert.ok(r >= box.r && r < box.r + box.h && c >= box.c && c < box.c + box.w);
  }
  assert.equal(readCase("conv-plain").tables.marks(0, 0).length, 1);
});

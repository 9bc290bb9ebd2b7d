// The playground's transposed mode: its output sizes and stamp counts, held against torch's
// (fixtures/transposed.json, written by make_transposed_fixture.py).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { overlapCounts, transposedGeometry } from "../src/playground/geometry.js";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/transposed.json", import.meta.url)));

test("output size and validity match F.conv_transpose2d for every sampled setting", () => {
  for (const setting of fixture.sizes) {
    const geometry = transposedGeometry(setting);
    // null: torch refuses the setting; 0: an empty output. The page says "no output" for both.
    if (setting.out === null || setting.out === 0) assert.equal(geometry.valid, false, JSON.stringify(setting));
    else assert.deepEqual([geometry.valid, geometry.out], [true, setting.out], JSON.stringify(setting));
  }
});

test("stamps per canvas cell match a transposed convolution of ones", () => {
  for (const { n, k, s, counts } of fixture.counts) {
    const canvas = transposedGeometry({ n, k, s, p: 0, a: 0 }).canvas;
    assert.deepEqual(overlapCounts(n, k, s, canvas), counts, `n=${n} k=${k} s=${s}`);
  }
});

test("kernel 3 stride 2 overlaps unevenly, kernel 4 stride 2 evenly (inside the canvas)", () => {
  const uneven = overlapCounts(6, 3, 2, transposedGeometry({ n: 6, k: 3, s: 2, p: 0, a: 0 }).canvas);
  const even = overlapCounts(6, 4, 2, transposedGeometry({ n: 6, k: 4, s: 2, p: 0, a: 0 }).canvas);
  assert.deepEqual(new Set(uneven.slice(2, -2)), new Set([1, 2]));
  assert.deepEqual(new Set(even.slice(2, -2)), new Set([2]));
});

// The small helpers every view shares (arrow keys, clamping, number formats, the feeders
// lookup) and the playground's output-size arithmetic, held against torch's fixture.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { feeders } from "../src/overview/graph.js";
import { convGeometry } from "../src/playground/geometry.js";
import { arrowStep, clamp, stepWithin } from "../src/ui/cursor.js";
import { fmt, formatPercent, formatShape, formatValue, shortNumber } from "../src/ui/format.js";

test("arrow keys step one cell and stop at the edges", () => {
  assert.deepEqual(arrowStep({ key: "ArrowUp" }), [-1, 0]);
  assert.equal(arrowStep({ key: "Enter" }), null);
  assert.deepEqual(stepWithin([0, 4], arrowStep({ key: "ArrowUp" }), 5, 5), [0, 4]);
  assert.deepEqual(stepWithin([0, 4], arrowStep({ key: "ArrowRight" }), 5, 5), [0, 4]);
  assert.deepEqual(stepWithin([2, 2], arrowStep({ key: "ArrowLeft" }), 5, 5), [2, 1]);
  assert.equal(clamp(7, 0, 3), 3);
  assert.equal(clamp(-1, 0, 3), 0);
});

test("numbers: detail decimals, exact readout, short axis labels, percentages, shapes", () => {
  assert.equal(fmt(1.23456), "1.235");
  assert.equal(fmt(-0.0001), "-1.00e-4");
  assert.equal(fmt(-0.0000), "0.000");
  assert.equal(fmt(123456), "1.23e+5");
  assert.equal(formatValue(Math.fround(0.1)), "0.1");
  assert.equal(formatValue(0), "0");
  assert.equal(formatValue(1e-5), "1.000000e-5");
  assert.equal(shortNumber(0.123456), "0.123");
  assert.equal(shortNumber(12345), "1.2e+4");
  assert.equal(formatPercent(0.1234), "12.3%");
  assert.equal(formatShape([1, 10, 62, 62]), "10×62×62");
  assert.equal(formatShape([1]), "scalar");
});

test("feeders only read the server's feeds", () => {
  const node = {
    feeds: [
      { node: "a", channels: "all" },
      { node: "b", channels: "same" },
      { node: "c", channels: [[0, 2], [2, 4], [0, 0]] },
    ],
  };
  assert.deepEqual(feeders(node, 1), [
    { nodeId: "a", channels: "all" }, { nodeId: "b", channels: [1] }, { nodeId: "c", channels: [2, 3] }]);
  assert.deepEqual(feeders(node, 2).map((f) => f.nodeId), ["a", "b"]);
  assert.deepEqual(feeders({}, 0), []);
});

test("the playground's output size and unreached cells are torch's, for every setting", () => {
  const { playground } = JSON.parse(readFileSync(new URL("./fixtures/windows.json", import.meta.url)));
  assert.ok(playground.length > 2000);
  for (const [n, p, k, s, d, out, ignored] of playground) {
    const geometry = convGeometry({ n, p, k, s, d });
    assert.deepEqual([geometry.out, geometry.ignored], [out, ignored], JSON.stringify({ n, p, k, s, d }));
  }
});

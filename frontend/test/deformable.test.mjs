// node --test frontend/test: the playground's deformable arithmetic against torch's numbers.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { bilinear, deformOutput, deformTerms } from "../src/playground/deformable_math.js";

const fixture = JSON.parse(readFileSync(new URL("./fixtures/deformable.json", import.meta.url), "utf8"));
const { rows, cols, k, input, kernel, bias } = fixture;

for (const { name, offsets, output } of fixture.cases) {
  test(`output map matches tensorsight.ops.deform_conv2d: ${name}`, () => {
    const ours = deformOutput(input, rows, cols, kernel, k, offsets, bias);
    assert.equal(ours.values.length, output.length);
    ours.values.forEach((value, index) => assert.ok(Math.abs(value - output[index]) < 1e-9,
      `${name}[${index}]: ${value} vs ${output[index]}`));
  });
}

test("bilinear weights are G(q, p) and sum to one inside the map", () => {
  const read = bilinear(input, rows, cols, 2.25, 3.5);
  assert.deepEqual(read.corners.map((corner) => corner.weight), [0.375, 0.375, 0.125, 0.125]);
  const expected = read.corners.reduce((sum, corner) => sum + corner.weight * input[corner.qy * cols + corner.qx], 0);
  assert.equal(read.value, expected);
});

test("outside the map reads zero", () => {
  assert.equal(bilinear(input, rows, cols, -1, 2).value, 0);
  const half = bilinear(input, rows, cols, -0.5, 0);
  assert.equal(half.value, 0.5 * input[0]);
});

test("the terms add up to the output value", () => {
  const { taps, value } = deformTerms(input, rows, cols, kernel, k, fixture.cases[1].offsets, 1, 2, bias);
  assert.equal(taps.length, 9);
  assert.ok(Math.abs(taps.reduce((sum, tap) => sum + tap.term, bias) - value) < 1e-12);
});

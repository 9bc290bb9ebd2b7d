# ruff: noqa: E501  (each expected note is one long line, as the user will read it)
"""Failing NumPy, PyTorch and JAX code, each with the exact note ``clarify()`` must add.

Each case's code is written to a real file and run inside ``clarify(diagram=False)``, so the
debugger reads its source the way it reads a user's script. The note is the product: each case
states it in full. Cases whose code counts calls to a side-effecting function also check that
function ran exactly once (the debugger never runs anything again).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tensorsight import clarify


@dataclass(frozen=True)
class Case:
    """Failing code, the exception it raises, and the exact note ``clarify`` must add."""

    name: str
    framework: str
    error: type[BaseException]
    code: str
    note: str
    options: dict[str, Any] = field(default_factory=dict)  # for clarify(), e.g. record_torch


def namespace(framework: str) -> dict[str, Any]:
    """The names a case's code may use, with its framework imported (or the case skipped)."""
    names: dict[str, Any] = {"__name__": "case", "np": np}
    if framework == "torch":
        torch = pytest.importorskip("torch")
        names.update(torch=torch, nn=torch.nn, F=torch.nn.functional)
    if framework == "jax":
        jax = pytest.importorskip("jax")
        names.update(jax=jax, jnp=jax.numpy)
    return names


def run_case(case: Case, directory: Path) -> tuple[BaseException, dict[str, Any]]:
    path = directory / f"{case.name}.py"
    path.write_text(textwrap.dedent(case.code))
    names = namespace(case.framework)
    with pytest.raises(case.error) as caught, clarify(diagram=False, **case.options):
        exec(compile(path.read_text(), str(path), "exec"), names)
    return caught.value, names


CASES = [
    Case(
        "np-matmul-2d",
        "numpy",
        ValueError,
        """\
h = np.ones((32, 128), np.float32)
W = np.ones((64, 10), np.float32)
y = h @ W
""",
        """\
tensorsight: in `h @ W` (line 3), operand shapes 32x128 @ 64x10 disagree: dim 1 of h (128) != dim 0 of W (64)
  h: 32x128 float32
  W: 64x10 float32""",
    ),
    Case(
        "np-dot",
        "numpy",
        ValueError,
        """\
a = np.ones((32, 128))
b = np.ones((64, 10))
np.dot(a, b)
""",
        """\
tensorsight: in `np.dot(a, b)` (line 3), np.dot operand shapes 32x128, 64x10 disagree: dim 1 of a (128) != dim 0 of b (64)
  a: 32x128 float64
  b: 64x10 float64""",
    ),
    Case(
        "np-matmul-function",
        "numpy",
        ValueError,
        """\
a = np.ones((5, 3))
b = np.ones((4, 2))
out = np.matmul(a, b)
""",
        """\
tensorsight: in `np.matmul(a, b)` (line 3), np.matmul operand shapes 5x3, 4x2 disagree: dim 1 of a (3) != dim 0 of b (4)
  a: 5x3 float64
  b: 4x2 float64""",
    ),
    Case(
        "np-matmul-3d-batched",
        "numpy",
        ValueError,
        """\
q = np.ones((8, 3, 4))
k = np.ones((8, 5, 6))
scores = q @ k
""",
        """\
tensorsight: in `q @ k` (line 3), operand shapes 8x3x4 @ 8x5x6 disagree: dim 2 of q (4) != dim 1 of k (5)
  q: 8x3x4 float64
  k: 8x5x6 float64""",
    ),
    Case(
        "np-matmul-batch-dims",
        "numpy",
        ValueError,
        """\
a = np.ones((8, 3, 4))
b = np.ones((7, 4, 6))
c = a @ b
""",
        """\
tensorsight: in `a @ b` (line 3), operand shapes 8x3x4 @ 7x4x6 disagree in their batch dims: dim 0 of a (8) != dim 0 of b (7)
  a: 8x3x4 float64
  b: 7x4x6 float64""",
    ),
    Case(
        "np-matmul-4d",
        "numpy",
        ValueError,
        """\
q = np.ones((2, 8, 16, 64))
k = np.ones((2, 8, 32, 16))
att = q @ k
""",
        """\
tensorsight: in `q @ k` (line 3), operand shapes 2x8x16x64 @ 2x8x32x16 disagree: dim 3 of q (64) != dim 2 of k (32)
  q: 2x8x16x64 float64
  k: 2x8x32x16 float64""",
    ),
    Case(
        "np-matmul-vectors",
        "numpy",
        ValueError,
        """\
u = np.ones(4)
v = np.ones(5)
u @ v
""",
        """\
tensorsight: in `u @ v` (line 3), operand shapes 4 @ 5 disagree: dim 0 of u (4) != dim 0 of v (5)
  u: 4 float64
  v: 5 float64""",
    ),
    Case(
        "np-add-broadcast",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones(5)
c = a + b
""",
        """\
tensorsight: in `a + b` (line 3), operand shapes 3x4 + 5 do not broadcast: dim 1 of a (4) != dim 0 of b (5)
  a: 3x4 float64
  b: 5 float64""",
    ),
    Case(
        "np-mul-broadcast-4d",
        "numpy",
        ValueError,
        """\
images = np.ones((2, 3, 4, 5))
mask = np.ones((3, 1, 6))
masked = images * mask
""",
        """\
tensorsight: in `images * mask` (line 3), operand shapes 2x3x4x5 * 3x1x6 do not broadcast: dim 3 of images (5) != dim 2 of mask (6)
  images: 2x3x4x5 float64
  mask: 3x1x6 float64""",
    ),
    Case(
        "np-add-function",
        "numpy",
        ValueError,
        """\
x = np.zeros((2, 3))
y = np.zeros((3, 2))
np.add(x, y)
""",
        """\
tensorsight: in `np.add(x, y)` (line 3), np.add operand shapes 2x3, 3x2 do not broadcast: dim 0 of x (2) != dim 0 of y (3); dim 1 of x (3) != dim 1 of y (2)
  x: 2x3 float64
  y: 3x2 float64""",
    ),
    Case(
        "np-where-three-operands",
        "numpy",
        ValueError,
        """\
cond = np.ones((4, 1), bool)
x = np.ones((4, 3))
y = np.ones(5)
np.where(cond, x, y)
""",
        """\
tensorsight: in `np.where(cond, x, y)` (line 4), np.where operand shapes 4x1, 4x3, 5 do not broadcast: dim 1 of x (3) != dim 0 of y (5)
  cond: 4x1 bool
  x: 4x3 float64
  y: 5 float64""",
    ),
    Case(
        "np-concatenate-axis0",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones((3, 5))
np.concatenate([a, b])
""",
        """\
tensorsight: in `np.concatenate([a, b])` (line 3), np.concatenate of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of a (4) != dim 1 of b (5)
  a: 3x4 float64
  b: 3x5 float64""",
    ),
    Case(
        "np-concatenate-axis1",
        "numpy",
        ValueError,
        """\
left = np.ones((2, 4))
right = np.ones((3, 4))
np.concatenate((left, right), axis=1)
""",
        """\
tensorsight: in `np.concatenate((left, right), axis=1)` (line 3), np.concatenate of shapes 2x4, 3x4 needs equal sizes in every dim but dim 1: dim 0 of left (2) != dim 0 of right (3)
  left: 2x4 float64
  right: 3x4 float64""",
    ),
    Case(
        "np-concatenate-ndim",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones(4)
np.concatenate([a, b])
""",
        """\
tensorsight: in `np.concatenate([a, b])` (line 3), np.concatenate of shapes 3x4, 4 needs arrays with the same number of dims: a is 2-D, b is 1-D
  a: 3x4 float64
  b: 4 float64""",
    ),
    Case(
        "np-stack",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones((3, 5))
np.stack([a, b])
""",
        """\
tensorsight: in `np.stack([a, b])` (line 3), np.stack of shapes 3x4, 3x5 needs equal shapes: dim 1 of a (4) != dim 1 of b (5)
  a: 3x4 float64
  b: 3x5 float64""",
    ),
    Case(
        "np-stack-list-name",
        "numpy",
        ValueError,
        """\
rows = [np.ones(3), np.ones(3), np.ones(4)]
np.stack(rows)
""",
        """\
tensorsight: in `np.stack(rows)` (line 2), np.stack of shapes 3, 3, 4 needs equal shapes: dim 0 of rows[0] (3) != dim 0 of rows[2] (4)
  rows[0]: 3 float64
  rows[1]: 3 float64
  rows[2]: 4 float64""",
    ),
    Case(
        "np-reshape-method",
        "numpy",
        ValueError,
        """\
a = np.arange(12)
a.reshape(5, 3)
""",
        """\
tensorsight: in `a.reshape(5, 3)` (line 2), cannot reshape a (12, 12 elements) into 5x3 (15 elements)
  a: 12 int64""",
    ),
    Case(
        "np-reshape-minus-one",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
np.reshape(a, (-1, 5))
""",
        """\
tensorsight: in `np.reshape(a, (-1, 5))` (line 2), cannot reshape a (3x4, 12 elements) into -1x5: 12 is not a multiple of 5
  a: 3x4 float64""",
    ),
    Case(
        "np-einsum",
        "numpy",
        ValueError,
        """\
a = np.ones((32, 128))
b = np.ones((64, 10))
np.einsum("ij,jk->ik", a, b)
""",
        """\
tensorsight: in `np.einsum("ij,jk->ik", a, b)` (line 3), np.einsum 'ij,jk->ik': index j is 128 in dim 1 of a but 64 in dim 0 of b
  a: 32x128 float64
  b: 64x10 float64""",
    ),
    Case(
        "np-einsum-arity",
        "numpy",
        ValueError,
        """\
a = np.ones((2, 3))
b = np.ones((3, 4))
np.einsum("ij,jk->ik", a, b, a)
""",
        """\
tensorsight: in `np.einsum("ij,jk->ik", a, b, a)` (line 3), np.einsum 'ij,jk->ik' names 2 operands but got 3
  a: 2x3 float64
  b: 3x4 float64
  a: 2x3 float64""",
    ),
    Case(
        "np-index-out-of-range",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
row = x[5]
""",
        """\
tensorsight: in `x[5]` (line 2), index 5 is out of range for dim 0 of x (size 3, valid -3..2); x is 3x4
  x: 3x4 float64""",
    ),
    Case(
        "np-index-second-dim",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
i = 1
x[i, 7]
""",
        """\
tensorsight: in `x[i, 7]` (line 3), index 7 is out of range for dim 1 of x (size 4, valid -4..3); x is 3x4
  x: 3x4 float64""",
    ),
    Case(
        "np-too-many-indices",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
x[0, 1, 2]
""",
        """\
tensorsight: in `x[0, 1, 2]` (line 2), x is 2-D (3x4) but [0, 1, 2] indexes 3 dims
  x: 3x4 float64""",
    ),
    Case(
        "np-attribute-operands",
        "numpy",
        ValueError,
        """\
class Layer:
    def __init__(self):
        self.weight = np.ones((10, 20))

layer = Layer()
x = np.ones((4, 30))
y = x @ layer.weight
""",
        """\
tensorsight: in `x @ layer.weight` (line 7), operand shapes 4x30 @ 10x20 disagree: dim 1 of x (30) != dim 0 of layer.weight (10)
  x: 4x30 float64
  layer.weight: 10x20 float64""",
    ),
    Case(
        "np-subscript-operands",
        "numpy",
        ValueError,
        """\
params = {"W": np.ones((64, 10)), "b": np.ones(10)}
xs = [np.ones((8, 32))]
y = xs[0] @ params["W"]
""",
        """\
tensorsight: in `xs[0] @ params["W"]` (line 3), operand shapes 8x32 @ 64x10 disagree: dim 1 of xs[0] (32) != dim 0 of params["W"] (64)
  xs[0]: 8x32 float64
  params["W"]: 64x10 float64""",
    ),
    Case(
        "np-transpose-attribute",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones((3, 5))
c = a @ b.T
""",
        """\
tensorsight: in `a @ b.T` (line 3), operand shapes 3x4 @ 5x3 disagree: dim 1 of a (4) != dim 0 of b.T (5)
  a: 3x4 float64
  b.T: 5x3 float64""",
    ),
    Case(
        "np-multi-line-statement",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones((5, 6))
total = (
    a.sum()
    + np.dot(a,
             b).sum()
)
""",
        """\
tensorsight: in `np.dot(a, b)` (line 5), np.dot operand shapes 3x4, 5x6 disagree: dim 1 of a (4) != dim 0 of b (5)
  statement: total = (a.sum() + np.dot(a, b).sum())
  a: 3x4 float64
  b: 5x6 float64""",
    ),
    Case(
        "np-list-comprehension",
        "numpy",
        ValueError,
        """\
w = np.ones((4, 2))
batches = [np.ones((3, 4)), np.ones((3, 5))]
outs = [batch @ w for batch in batches]
""",
        """\
tensorsight: in `batch @ w` (line 3), operand shapes 3x5 @ 4x2 disagree: dim 1 of batch (5) != dim 0 of w (4)
  statement: outs = [batch @ w for batch in batches]
  batch: 3x5 float64
  w: 4x2 float64""",
    ),
    Case(
        "np-lambda",
        "numpy",
        ValueError,
        """\
w = np.ones((4, 2))
project = lambda v: v @ w
project(np.ones((3, 3)))
""",
        """\
tensorsight: in `v @ w` (line 2), operand shapes 3x3 @ 4x2 disagree: dim 1 of v (3) != dim 0 of w (4)
  statement: project = lambda v: v @ w
  v: 3x3 float64
  w: 4x2 float64""",
    ),
    Case(
        "np-method",
        "numpy",
        ValueError,
        """\
class Model:
    def __init__(self):
        self.w1 = np.ones((4, 8))
        self.w2 = np.ones((6, 2))

    def forward(self, x):
        hidden = x @ self.w1
        return hidden @ self.w2

Model().forward(np.ones((5, 4)))
""",
        """\
tensorsight: in `hidden @ self.w2` (line 8), operand shapes 5x8 @ 6x2 disagree: dim 1 of hidden (8) != dim 0 of self.w2 (6)
  hidden: 5x8 float64
  self.w2: 6x2 float64""",
    ),
    Case(
        "np-intermediate-inferred",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 4))
b = np.ones((4, 5))
c = np.ones((6, 2))
d = (a @ b) @ c
""",
        """\
tensorsight: in `(a @ b) @ c` (line 4), operand shapes 3x5 @ 6x2 disagree: dim 1 of `a @ b` (5) != dim 0 of c (6)
  a @ b: 3x5 (inferred from its operands; not run again)
  c: 6x2 float64""",
    ),
    Case(
        "np-matmul-call-operands-from-message",
        "numpy",
        ValueError,
        """\
x = np.ones((32, 128))
scores = np.tanh(x) @ np.ones((64, 10))
""",
        """\
tensorsight: in `np.tanh(x) @ np.ones((64, 10))` (line 2), operand shapes ? @ ? disagree: `np.tanh(x)` has 128 in its last dim but `np.ones((64, 10))` has 64 in its contracted dim (sizes from numpy's message)
  np.tanh(x): shape unknown (result of a call; not run again)
  np.ones((64, 10)): shape unknown (result of a call; not run again)""",
    ),
    Case(
        "np-side-effect-runs-once",
        "numpy",
        ValueError,
        """\
calls = []

def next_batch():
    calls.append(1)
    return np.ones((2, 3))

W = np.ones((4, 5))
out = np.dot(next_batch(), W)
""",
        """\
tensorsight: in `np.dot(next_batch(), W)` (line 8), np.dot operand shapes 2x3, 4x5 disagree: dim 1 of `next_batch()` (3) != dim 0 of W (4)
  next_batch(): 2x3 (from numpy's message; not run again)
  W: 4x5 float64""",
    ),
    Case(
        "np-augmented-assignment",
        "numpy",
        ValueError,
        """\
total = np.zeros((3, 4))
step = np.ones((4, 3))
total += step
""",
        """\
tensorsight: in `total += step` (line 3), operand shapes 3x4 += 4x3 do not broadcast: dim 0 of total (3) != dim 0 of step (4); dim 1 of total (4) != dim 1 of step (3)
  total: 3x4 float64
  step: 4x3 float64""",
    ),
    Case(
        "np-comparison",
        "numpy",
        ValueError,
        """\
pred = np.zeros(5)
target = np.zeros(6)
pred == target
""",
        """\
tensorsight: in `pred == target` (line 3), operand shapes 5 == 6 do not broadcast: dim 0 of pred (5) != dim 0 of target (6)
  pred: 5 float64
  target: 6 float64""",
    ),
    Case(
        "np-dtype-bitwise",
        "numpy",
        TypeError,
        """\
flags = np.ones(4, dtype=np.int64)
weights = np.ones(4, dtype=np.float64)
flags & weights
""",
        """\
tensorsight: in `flags & weights` (line 3), operand dtypes int64 & float64 disagree: flags is int64, weights is float64
  flags: 4 int64
  weights: 4 float64""",
    ),
    Case(
        "np-deep-library",
        "numpy",
        ValueError,
        """\
A = np.eye(3)
b = np.ones(4)
np.linalg.solve(A, b)
""",
        """\
tensorsight: in `np.linalg.solve(A, b)` (line 3), np.linalg.solve failed on A (3x3), b (4)
  A: 3x3 float64
  b: 4 float64
  raised inside numpy.linalg._linalg.solve""",
    ),
    Case(
        "np-deep-library-inner-operation",
        "numpy",
        ValueError,
        """\
a, b, c = np.ones((3, 4)), np.ones((5, 6)), np.ones((6, 2))
chain = np.linalg.multi_dot([a, b, c])
""",
        """\
tensorsight: in `np.linalg.multi_dot([a, b, c])` (line 2), np.linalg.multi_dot failed on a (3x4), b (5x6), c (6x2)
  a: 3x4 float64
  b: 5x6 float64
  c: 6x2 float64
  raised inside numpy.linalg._linalg._multi_dot_three, at `dot(A, dot(B, C), out=out)`: dot operand shapes 3x4, 5x2 disagree: dim 1 of A (4) != dim 0 of `dot(B, C)` (5)
    A: 3x4 float64
    dot(B, C): 5x2 (from numpy's message; not run again)""",
    ),
    Case(
        "torch-matmul-2d",
        "torch",
        RuntimeError,
        """\
x = torch.ones(32, 128)
W = torch.ones(64, 10)
y = x @ W
""",
        """\
tensorsight: in `x @ W` (line 3), operand shapes 32x128 @ 64x10 disagree: dim 1 of x (128) != dim 0 of W (64)
  x: 32x128 float32 cpu
  W: 64x10 float32 cpu""",
    ),
    Case(
        "torch-mm",
        "torch",
        RuntimeError,
        """\
a = torch.ones(32, 128)
b = torch.ones(64, 10)
torch.mm(a, b)
""",
        """\
tensorsight: in `torch.mm(a, b)` (line 3), torch.mm operand shapes 32x128, 64x10 disagree: dim 1 of a (128) != dim 0 of b (64)
  a: 32x128 float32 cpu
  b: 64x10 float32 cpu""",
    ),
    Case(
        "torch-mm-ndim",
        "torch",
        RuntimeError,
        """\
a = torch.ones(2, 3, 4)
b = torch.ones(4, 5)
torch.mm(a, b)
""",
        """\
tensorsight: in `torch.mm(a, b)` (line 3), torch.mm operand shapes 2x3x4, 4x5 disagree: torch.mm needs 2-D operands, got a 3-D and b 2-D
  a: 2x3x4 float32 cpu
  b: 4x5 float32 cpu""",
    ),
    Case(
        "torch-bmm",
        "torch",
        RuntimeError,
        """\
a = torch.ones(8, 3, 4)
b = torch.ones(8, 5, 6)
torch.bmm(a, b)
""",
        """\
tensorsight: in `torch.bmm(a, b)` (line 3), torch.bmm operand shapes 8x3x4, 8x5x6 disagree: dim 2 of a (4) != dim 1 of b (5)
  a: 8x3x4 float32 cpu
  b: 8x5x6 float32 cpu""",
    ),
    Case(
        "torch-matmul-4d",
        "torch",
        RuntimeError,
        """\
q = torch.ones(2, 8, 16, 64)
k = torch.ones(2, 8, 32, 16)
scores = q @ k
""",
        """\
tensorsight: in `q @ k` (line 3), operand shapes 2x8x16x64 @ 2x8x32x16 disagree: dim 3 of q (64) != dim 2 of k (32)
  q: 2x8x16x64 float32 cpu
  k: 2x8x32x16 float32 cpu""",
    ),
    Case(
        "torch-matmul-call-operand-sizes-from-message",
        "torch",
        RuntimeError,
        """\
q = torch.ones(2, 8, 16, 64)
k = torch.ones(2, 8, 16, 32)
scores = q @ k.transpose(-2, -1)
""",
        """\
tensorsight: in `q @ k.transpose(-2, -1)` (line 3), operand shapes 2x8x16x64 @ ? disagree: q has 64 in its last dim but `k.transpose(-2, -1)` has 32 in its contracted dim (sizes from torch's message)
  q: 2x8x16x64 float32 cpu
  k.transpose(-2, -1): shape unknown (result of a call; not run again)""",
    ),
    Case(
        "torch-matmul-call-operand-recorded",
        "torch",
        RuntimeError,
        """\
q = torch.ones(2, 8, 16, 64)
k = torch.ones(2, 8, 16, 32)
scores = q @ k.transpose(-2, -1)
""",
        """\
tensorsight: in `q @ k.transpose(-2, -1)` (line 3), operand shapes 2x8x16x64 @ 2x8x32x16 disagree: dim 3 of q (64) != dim 2 of `k.transpose(-2, -1)` (32)
  q: 2x8x16x64 float32 cpu
  k.transpose(-2, -1): 2x8x32x16 float32 cpu""",
        {"record_torch": True},
    ),
    Case(
        "torch-matmul-from-message",
        "torch",
        RuntimeError,
        """\
x = torch.ones(32, 128)
W = torch.ones(64, 10)
logits = torch.relu(x) @ W
""",
        """\
tensorsight: in `torch.relu(x) @ W` (line 3), operand shapes 32x128 @ 64x10 disagree: dim 1 of `torch.relu(x)` (128) != dim 0 of W (64)
  torch.relu(x): 32x128 (from torch's message; not run again)
  W: 64x10 float32 cpu""",
    ),
    Case(
        "torch-add-broadcast",
        "torch",
        RuntimeError,
        """\
a = torch.ones(3, 4)
b = torch.ones(5)
a + b
""",
        """\
tensorsight: in `a + b` (line 3), operand shapes 3x4 + 5 do not broadcast: dim 1 of a (4) != dim 0 of b (5)
  a: 3x4 float32 cpu
  b: 5 float32 cpu""",
    ),
    Case(
        "torch-mul-method",
        "torch",
        RuntimeError,
        """\
a = torch.ones(2, 3)
b = torch.ones(2, 4)
a.mul(b)
""",
        """\
tensorsight: in `a.mul(b)` (line 3), a.mul operand shapes 2x3, 2x4 do not broadcast: dim 1 of a (3) != dim 1 of b (4)
  a: 2x3 float32 cpu
  b: 2x4 float32 cpu""",
    ),
    Case(
        "torch-cat",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
y = torch.ones(3, 5)
torch.cat([x, y])
""",
        """\
tensorsight: in `torch.cat([x, y])` (line 3), torch.cat of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of x (4) != dim 1 of y (5)
  x: 3x4 float32 cpu
  y: 3x5 float32 cpu""",
    ),
    Case(
        "torch-cat-dim1",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 4)
y = torch.ones(3, 4)
torch.cat((x, y), dim=1)
""",
        """\
tensorsight: in `torch.cat((x, y), dim=1)` (line 3), torch.cat of shapes 2x4, 3x4 needs equal sizes in every dim but dim 1: dim 0 of x (2) != dim 0 of y (3)
  x: 2x4 float32 cpu
  y: 3x4 float32 cpu""",
    ),
    Case(
        "torch-stack",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
y = torch.ones(3, 5)
torch.stack([x, y])
""",
        """\
tensorsight: in `torch.stack([x, y])` (line 3), torch.stack of shapes 3x4, 3x5 needs equal shapes: dim 1 of x (4) != dim 1 of y (5)
  x: 3x4 float32 cpu
  y: 3x5 float32 cpu""",
    ),
    Case(
        "torch-cat-side-effect-unknown",
        "torch",
        RuntimeError,
        """\
calls = []

def features():
    calls.append(1)
    return torch.ones(3, 4)

y = torch.ones(3, 5)
torch.cat([features(), y])
""",
        """\
tensorsight: in `torch.cat([features(), y])` (line 8), torch.cat operand shapes ?, 3x5 disagree (an operand's shape is unknown: it is the result of a call)
  features(): shape unknown (result of a call; not run again)
  y: 3x5 float32 cpu""",
    ),
    Case(
        "torch-cat-side-effect-recorded",
        "torch",
        RuntimeError,
        """\
calls = []

def features():
    calls.append(1)
    return torch.ones(3, 4)

y = torch.ones(3, 5)
torch.cat([features(), y])
""",
        """\
tensorsight: in `torch.cat([features(), y])` (line 8), torch.cat of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of `features()` (4) != dim 1 of y (5)
  features(): 3x4 float32 cpu
  y: 3x5 float32 cpu""",
        {"record_torch": True},
    ),
    Case(
        "torch-view",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
x.view(5, 3)
""",
        """\
tensorsight: in `x.view(5, 3)` (line 2), cannot view x (3x4, 12 elements) as 5x3 (15 elements)
  x: 3x4 float32 cpu""",
    ),
    Case(
        "torch-view-minus-one",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
x.view(-1, 5)
""",
        """\
tensorsight: in `x.view(-1, 5)` (line 2), cannot view x (3x4, 12 elements) as -1x5: 12 is not a multiple of 5
  x: 3x4 float32 cpu""",
    ),
    Case(
        "torch-reshape-function",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.reshape(x, (5, 5))
""",
        """\
tensorsight: in `torch.reshape(x, (5, 5))` (line 2), cannot reshape x (2x3x4, 24 elements) into 5x5 (25 elements)
  x: 2x3x4 float32 cpu""",
    ),
    Case(
        "torch-view-non-contiguous",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
xt = x.t()
xt.view(12)
""",
        """\
tensorsight: in `xt.view(12)` (line 3), cannot view xt (4x3) as 12: its memory is not contiguous; use .reshape() or .contiguous() first
  xt: 4x3 float32 cpu""",
    ),
    Case(
        "torch-einsum",
        "torch",
        RuntimeError,
        """\
a = torch.ones(32, 128)
b = torch.ones(64, 10)
torch.einsum("ij,jk->ik", a, b)
""",
        """\
tensorsight: in `torch.einsum("ij,jk->ik", a, b)` (line 3), torch.einsum 'ij,jk->ik': index j is 128 in dim 1 of a but 64 in dim 0 of b
  a: 32x128 float32 cpu
  b: 64x10 float32 cpu""",
    ),
    Case(
        "torch-einsum-batched",
        "torch",
        RuntimeError,
        """\
q = torch.ones(2, 4, 8)
k = torch.ones(2, 5, 9)
torch.einsum("bqd,bkd->bqk", q, k)
""",
        """\
tensorsight: in `torch.einsum("bqd,bkd->bqk", q, k)` (line 3), torch.einsum 'bqd,bkd->bqk': index d is 8 in dim 2 of q but 9 in dim 2 of k
  q: 2x4x8 float32 cpu
  k: 2x5x9 float32 cpu""",
    ),
    Case(
        "torch-einsum-call-operands-from-callee-frame",
        "torch",
        RuntimeError,
        """\
x = torch.ones(32, 128)
w = torch.ones(64, 10)
torch.einsum("ij,jk->ik", torch.tanh(x), w.float())
""",
        """\
tensorsight: in `torch.einsum("ij,jk->ik", torch.tanh(x), w.float())` (line 3), torch.einsum 'ij,jk->ik': index j is 128 in dim 1 of `torch.tanh(x)` but 64 in dim 0 of `w.float()`
  torch.tanh(x): 32x128 float32 cpu (as the called function received it; not run again)
  w.float(): 64x10 float32 cpu (as the called function received it; not run again)""",
    ),
    Case(
        "torch-functional-linear",
        "torch",
        RuntimeError,
        """\
x = torch.ones(4, 3)
weight = torch.ones(5, 6)
F.linear(x, weight)
""",
        """\
tensorsight: in `F.linear(x, weight)` (line 3), F.linear operand shapes 4x3, 5x6 disagree: dim 1 of x (3) != dim 1 of weight (6) (F.linear computes x @ weight.T)
  x: 4x3 float32 cpu
  weight: 5x6 float32 cpu""",
    ),
    Case(
        "torch-functional-conv2d",
        "torch",
        RuntimeError,
        """\
images = torch.ones(2, 1, 8, 8)
kernels = torch.ones(4, 3, 3, 3)
F.conv2d(images, kernels, padding=1)
""",
        """\
tensorsight: in `F.conv2d(images, kernels, padding=1)` (line 3), F.conv2d operand shapes 2x1x8x8, 4x3x3x3 disagree: dim 1 of images (1) != dim 1 of kernels (3) (input channels; weight is out x in/groups x kernel)
  images: 2x1x8x8 float32 cpu
  kernels: 4x3x3x3 float32 cpu""",
    ),
    Case(
        "torch-linear-in-forward",
        "torch",
        RuntimeError,
        """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(x)

Net()(torch.ones(32, 64))
""",
        """\
tensorsight: in `self.fc(x)` (line 7), self.fc is Linear(in_features=128, out_features=10, bias=True): input x is 32x64 but dim 1 should be 128 (in_features)
  x: 32x64 float32 cpu""",
    ),
    Case(
        "torch-linear-call-input",
        "torch",
        RuntimeError,
        """\
fc = nn.Linear(128, 10)
x = torch.ones(32, 64)
fc(torch.relu(x))
""",
        """\
tensorsight: in `fc(torch.relu(x))` (line 3), fc is Linear(in_features=128, out_features=10, bias=True): input `torch.relu(x)` is 32x64 but dim 1 should be 128 (in_features)
  torch.relu(x): 32x64 float32 cpu""",
    ),
    Case(
        "torch-conv2d-channels",
        "torch",
        RuntimeError,
        """\
conv = nn.Conv2d(3, 16, kernel_size=3)
images = torch.ones(2, 1, 28, 28)
conv(images)
""",
        """\
tensorsight: in `conv(images)` (line 3), conv is Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): input images is 2x1x28x28 but dim 1 should be 3 (in_channels)
  images: 2x1x28x28 float32 cpu""",
    ),
    Case(
        "torch-conv2d-unbatched",
        "torch",
        RuntimeError,
        """\
conv = nn.Conv2d(3, 16, kernel_size=3)
image = torch.ones(1, 28, 28)
conv(image)
""",
        """\
tensorsight: in `conv(image)` (line 3), conv is Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): input image is 1x28x28 but dim 0 should be 3 (in_channels)
  image: 1x28x28 float32 cpu""",
    ),
    Case(
        "torch-conv2d-kernel-too-large",
        "torch",
        RuntimeError,
        """\
conv = nn.Conv2d(3, 16, kernel_size=5)
patch = torch.ones(2, 3, 2, 2)
conv(patch)
""",
        """\
tensorsight: in `conv(patch)` (line 3), conv is Conv2d(3, 16, kernel_size=(5, 5), stride=(1, 1)): input patch is 2x3x2x2 but its spatial size 2x2 (padding 0x0) is smaller than the kernel 5x5
  patch: 2x3x2x2 float32 cpu""",
    ),
    Case(
        "torch-conv2d-ndim",
        "torch",
        RuntimeError,
        """\
conv = nn.Conv2d(3, 16, kernel_size=3)
flat = torch.ones(2, 3 * 28 * 28)
conv(flat)
""",
        """\
tensorsight: in `conv(flat)` (line 3), conv is Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1)): input flat is 2x2352 (2-D) but it should be 4-D N x C x H x W (or 3-D without N)
  flat: 2x2352 float32 cpu""",
    ),
    Case(
        "torch-batchnorm2d",
        "torch",
        RuntimeError,
        """\
bn = nn.BatchNorm2d(16)
features = torch.ones(2, 8, 4, 4)
bn(features)
""",
        """\
tensorsight: in `bn(features)` (line 3), bn is BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True): input features is 2x8x4x4 but dim 1 should be 16 (num_features)
  features: 2x8x4x4 float32 cpu""",
    ),
    Case(
        "torch-batchnorm1d",
        "torch",
        RuntimeError,
        """\
bn = nn.BatchNorm1d(16)
features = torch.ones(4, 8)
bn(features)
""",
        """\
tensorsight: in `bn(features)` (line 3), bn is BatchNorm1d(16, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True): input features is 4x8 but dim 1 should be 16 (num_features)
  features: 4x8 float32 cpu""",
    ),
    Case(
        "torch-layernorm",
        "torch",
        RuntimeError,
        """\
norm = nn.LayerNorm(16)
x = torch.ones(2, 8)
norm(x)
""",
        """\
tensorsight: in `norm(x)` (line 3), norm is LayerNorm((16,), eps=1e-05, elementwise_affine=True, bias=True): input x is 2x8 but its last dims should be 16 (normalized_shape)
  x: 2x8 float32 cpu""",
    ),
    Case(
        "torch-embedding-index",
        "torch",
        IndexError,
        """\
embed = nn.Embedding(10, 4)
tokens = torch.tensor([[1, 2, 11]])
embed(tokens)
""",
        """\
tensorsight: in `embed(tokens)` (line 3), embed is Embedding(10, 4): input tokens holds index 11 but the table has 10 rows (valid 0..9)
  tokens: 1x3 int64 cpu""",
    ),
    Case(
        "torch-sequential-inner-layer",
        "torch",
        RuntimeError,
        """\
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(30, 5))

    def forward(self, x):
        return self.body(x)

net = Net()
net(torch.ones(4, 10))
""",
        """\
tensorsight: in `self.body(x)` (line 7), self.body[2] is Linear(in_features=30, out_features=5, bias=True): its input is 4x20 but dim 1 should be 30 (in_features)
  input of self.body[2]: 4x20 float32 cpu""",
    ),
    Case(
        "torch-dtype-matmul",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
W = torch.ones(4, 2, dtype=torch.float64)
x @ W
""",
        """\
tensorsight: in `x @ W` (line 3), operand dtypes float32 @ float64 disagree: x is float32, W is float64
  x: 3x4 float32 cpu
  W: 4x2 float64 cpu""",
    ),
    Case(
        "torch-device-add",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4, device="meta")
y = torch.ones(3, 4)
x + y
""",
        """\
tensorsight: in `x + y` (line 3), operand devices meta + cpu disagree: x is on meta, y is on cpu
  x: 3x4 float32 meta
  y: 3x4 float32 cpu""",
    ),
    Case(
        "torch-device-cat-in-loop-header",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4, device="meta")
y = torch.ones(3, 4)
for part in torch.cat([x, y]):
    print(part)
""",
        """\
tensorsight: in `torch.cat([x, y])` (line 3), torch.cat operand devices meta, cpu disagree: x is on meta, y is on cpu
  statement: for part in torch.cat([x, y]):
  x: 3x4 float32 meta
  y: 3x4 float32 cpu""",
    ),
    Case(
        "torch-index-out-of-range",
        "torch",
        IndexError,
        """\
x = torch.ones(3, 4)
x[5]
""",
        """\
tensorsight: in `x[5]` (line 2), index 5 is out of range for dim 0 of x (size 3, valid -3..2); x is 3x4
  x: 3x4 float32 cpu""",
    ),
    Case(
        "torch-index-tensor",
        "torch",
        IndexError,
        """\
table = torch.ones(3, 4)
rows = torch.tensor([0, 2, 3])
table[rows]
""",
        """\
tensorsight: in `table[rows]` (line 3), index 3 is out of range for dim 0 of table (size 3, valid -3..2); table is 3x4
  table: 3x4 float32 cpu""",
    ),
    Case(
        "torch-deep-library",
        "torch",
        ValueError,
        """\
logits = torch.ones(4, 10)
target = torch.zeros(3, dtype=torch.long)
F.cross_entropy(logits, target)
""",
        """\
tensorsight: in `F.cross_entropy(logits, target)` (line 3), F.cross_entropy failed on logits (4x10), target (3)
  logits: 4x10 float32 cpu
  target: 3 int64 cpu
  raised inside torch.nn.functional.cross_entropy""",
    ),
    Case(
        "torch-multi-line-call",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
y = torch.ones(3, 5)
merged = torch.cat(
    [x,
     y],
    dim=0,
)
""",
        """\
tensorsight: in `torch.cat([x, y], dim=0,)` (line 3), torch.cat of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of x (4) != dim 1 of y (5)
  statement: merged = torch.cat([x, y], dim=0,)
  x: 3x4 float32 cpu
  y: 3x5 float32 cpu""",
    ),
    Case(
        "jax-matmul",
        "jax",
        TypeError,
        """\
a = jnp.ones((32, 128))
b = jnp.ones((64, 10))
a @ b
""",
        """\
tensorsight: in `a @ b` (line 3), operand shapes 32x128 @ 64x10 disagree: dim 1 of a (128) != dim 0 of b (64)
  a: 32x128 float32
  b: 64x10 float32""",
    ),
    Case(
        "jax-dot",
        "jax",
        TypeError,
        """\
a = jnp.ones((32, 128))
b = jnp.ones((64, 10))
jnp.dot(a, b)
""",
        """\
tensorsight: in `jnp.dot(a, b)` (line 3), jnp.dot operand shapes 32x128, 64x10 disagree: dim 1 of a (128) != dim 0 of b (64)
  a: 32x128 float32
  b: 64x10 float32""",
    ),
    Case(
        "jax-matmul-3d",
        "jax",
        TypeError,
        """\
a = jnp.ones((8, 3, 4))
b = jnp.ones((8, 5, 6))
a @ b
""",
        """\
tensorsight: in `a @ b` (line 3), operand shapes 8x3x4 @ 8x5x6 disagree: dim 2 of a (4) != dim 1 of b (5)
  a: 8x3x4 float32
  b: 8x5x6 float32""",
    ),
    Case(
        "jax-add-broadcast",
        "jax",
        ValueError,
        """\
a = jnp.ones((3, 4))
b = jnp.ones(5)
a + b
""",
        """\
tensorsight: in `a + b` (line 3), operand shapes 3x4 + 5 do not broadcast: dim 1 of a (4) != dim 0 of b (5)
  a: 3x4 float32
  b: 5 float32""",
    ),
    Case(
        "jax-concatenate",
        "jax",
        TypeError,
        """\
a = jnp.ones((3, 4))
b = jnp.ones((3, 5))
jnp.concatenate([a, b])
""",
        """\
tensorsight: in `jnp.concatenate([a, b])` (line 3), jnp.concatenate of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of a (4) != dim 1 of b (5)
  a: 3x4 float32
  b: 3x5 float32""",
    ),
    Case(
        "jax-stack",
        "jax",
        ValueError,
        """\
a = jnp.ones(3)
b = jnp.ones(4)
jnp.stack([a, b])
""",
        """\
tensorsight: in `jnp.stack([a, b])` (line 3), jnp.stack of shapes 3, 4 needs equal shapes: dim 0 of a (3) != dim 0 of b (4)
  a: 3 float32
  b: 4 float32""",
    ),
    Case(
        "jax-reshape",
        "jax",
        TypeError,
        """\
a = jnp.ones((3, 4))
a.reshape(5, 3)
""",
        """\
tensorsight: in `a.reshape(5, 3)` (line 2), cannot reshape a (3x4, 12 elements) into 5x3 (15 elements)
  a: 3x4 float32""",
    ),
    Case(
        "jax-einsum",
        "jax",
        ValueError,
        """\
a = jnp.ones((32, 128))
b = jnp.ones((64, 10))
jnp.einsum("ij,jk->ik", a, b)
""",
        """\
tensorsight: in `jnp.einsum("ij,jk->ik", a, b)` (line 3), jnp.einsum 'ij,jk->ik': index j is 128 in dim 1 of a but 64 in dim 0 of b
  a: 32x128 float32
  b: 64x10 float32""",
    ),
    Case(
        "jax-concatenate-call-operand-from-callee-frame",
        "jax",
        TypeError,
        """\
a = jnp.ones((3, 4))
jnp.concatenate([jnp.zeros((3, 5)), a])
""",
        """\
tensorsight: in `jnp.concatenate([jnp.zeros((3, 5)), a])` (line 2), jnp.concatenate of shapes 3x5, 3x4 needs equal sizes in every dim but dim 0: dim 1 of `jnp.zeros((3, 5))` (5) != dim 1 of a (4)
  jnp.zeros((3, 5)): 3x5 float32 (as the called function received it; not run again)
  a: 3x4 float32""",
    ),
    Case(
        "jax-matmul-call-operand-sizes-from-message",
        "jax",
        TypeError,
        """\
a = jnp.ones((32, 128))
b = jnp.ones((64, 10))
jnp.tanh(a) @ b
""",
        """\
tensorsight: in `jnp.tanh(a) @ b` (line 3), operand shapes ? @ 64x10 disagree: `jnp.tanh(a)` has 128 in its last dim but b has 64 in its contracted dim (sizes from jax's message)
  jnp.tanh(a): shape unknown (result of a call; not run again)
  b: 64x10 float32""",
    ),
    Case(
        "jax-jit",
        "jax",
        TypeError,
        """\
@jax.jit
def predict(w, x):
    return x @ w

predict(jnp.ones((5, 2)), jnp.ones((3, 4)))
""",
        """\
tensorsight: in `x @ w` (line 3), operand shapes 3x4 @ 5x2 disagree: dim 1 of x (4) != dim 0 of w (5)
  x: 3x4 float32
  w: 5x2 float32""",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_note(case: Case, tmp_path: Path) -> None:
    error, names = run_case(case, tmp_path)
    ours = [note for note in error.__notes__ if note.startswith("tensorsight:")]
    assert ours == [case.note]
    assert error.__notes__[-1] == case.note  # JAX adds a note of its own before ours
    if "calls" in names:
        assert names["calls"] == [1], "the side-effecting call must run exactly once"


def test_there_are_at_least_sixty_cases_across_three_frameworks() -> None:
    frameworks = {case.framework for case in CASES}
    assert len(CASES) >= 60 and frameworks == {"numpy", "torch", "jax"}

# ruff: noqa: E501  (each expected note is one long line, as the user will read it)
"""What ``clarify()`` sees without running anything, beyond reading names: exact notes.

Shapes of call results derived by shape rules from operands already known (element-wise
functions, reductions with axis/dim and keepdims, transposes and permutations with negative
dims, reshape/view/flatten/squeeze/unsqueeze, indexing, constructors), multi-input layers
named with their configuration and every operand, NumPy index arrays, dims out of range, and
0-D operands that used to crash the rule. Each case runs in a real file under ``clarify(diagram=False)``, in
strict mode (see ``conftest.py``): an internal error fails the case.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from test_clarify_cases import CASES as EXISTING
from test_clarify_cases import Case, namespace, run_case

from tensorsight import clarify

CASES = [
    Case(
        "torch-derived-elementwise-broadcast",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
b = torch.ones(5)
torch.sqrt(x) + b
""",
        """\
tensorsight: in `torch.sqrt(x) + b` (line 3), operand shapes 3x4 + 5 do not broadcast: dim 1 of `torch.sqrt(x)` (4) != dim 0 of b (5)
  torch.sqrt(x): 3x4 cpu (inferred from its operands; not run again)
  b: 5 float32 cpu""",
    ),
    Case(
        "np-derived-elementwise-and-constructor",
        "numpy",
        ValueError,
        """\
x = np.ones((3, 4))
np.concatenate([np.tanh(x), np.ones((3, 5))])
""",
        """\
tensorsight: in `np.concatenate([np.tanh(x), np.ones((3, 5))])` (line 2), np.concatenate of shapes 3x4, 3x5 needs equal sizes in every dim but dim 0: dim 1 of `np.tanh(x)` (4) != dim 1 of `np.ones((3, 5))` (5)
  np.tanh(x): 3x4 (inferred from its operands; not run again)
  np.ones((3, 5)): 3x5 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-derived-reduction-axis",
        "numpy",
        ValueError,
        """\
x = np.ones((2, 3, 4))
np.concatenate([x.sum(axis=1), np.ones((2, 5))])
""",
        """\
tensorsight: in `np.concatenate([x.sum(axis=1), np.ones((2, 5))])` (line 2), np.concatenate of shapes 2x4, 2x5 needs equal sizes in every dim but dim 0: dim 1 of `x.sum(axis=1)` (4) != dim 1 of `np.ones((2, 5))` (5)
  x.sum(axis=1): 2x4 (inferred from its operands; not run again)
  np.ones((2, 5)): 2x5 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-derived-reduction-keepdims-indexed",
        "numpy",
        IndexError,
        """\
x = np.ones((2, 3, 4))
np.mean(x, axis=(0, 1), keepdims=True)[0, 0, 5]
""",
        """\
tensorsight: in `np.mean(x, axis=(0, 1), keepdims=True)[0, 0, 5]` (line 2), index 5 is out of range for dim 2 of `np.mean(x, axis=(0, 1), keepd…` (size 4, valid -4..3); `np.mean(x, axis=(0, 1), keepd…` is 1x1x4
  np.mean(x, axis=(0, 1), keepdims=True): 1x1x4 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-reduction-negative-dim-keepdim",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.cat([x.mean(dim=-1, keepdim=True), torch.ones(2, 4, 1)])
""",
        """\
tensorsight: in `torch.cat([x.mean(dim=-1, keepdim=True), torch.ones(2, 4, 1)])` (line 2), torch.cat of shapes 2x3x1, 2x4x1 needs equal sizes in every dim but dim 0: dim 1 of `x.mean(dim=-1, keepdim=True)` (3) != dim 1 of `torch.ones(2, 4, 1)` (4)
  x.mean(dim=-1, keepdim=True): 2x3x1 cpu (inferred from its operands; not run again)
  torch.ones(2, 4, 1): 2x4x1 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-transpose-negative-dims",
        "torch",
        RuntimeError,
        """\
q = torch.ones(2, 8, 16)
k = torch.ones(2, 8, 32)
torch.cat([q.transpose(-2, -1), k])
""",
        """\
tensorsight: in `torch.cat([q.transpose(-2, -1), k])` (line 3), torch.cat of shapes 2x16x8, 2x8x32 needs equal sizes in every dim but dim 0: dim 1 of `q.transpose(-2, -1)` (16) != dim 1 of k (8)
  q.transpose(-2, -1): 2x16x8 cpu (inferred from its operands; not run again)
  k: 2x8x32 float32 cpu""",
    ),
    Case(
        "torch-derived-permute-negative-dim",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.stack([x.permute(2, 0, -2), x])
""",
        """\
tensorsight: in `torch.stack([x.permute(2, 0, -2), x])` (line 2), torch.stack of shapes 4x2x3, 2x3x4 needs equal shapes: dim 0 of `x.permute(2, 0, -2)` (4) != dim 0 of x (2)
  x.permute(2, 0, -2): 4x2x3 cpu (inferred from its operands; not run again)
  x: 2x3x4 float32 cpu""",
    ),
    Case(
        "np-derived-swapaxes-negative-dim",
        "numpy",
        ValueError,
        """\
x = np.ones((2, 3, 4))
np.concatenate([np.swapaxes(x, -1, 0), x])
""",
        """\
tensorsight: in `np.concatenate([np.swapaxes(x, -1, 0), x])` (line 2), np.concatenate of shapes 4x3x2, 2x3x4 needs equal sizes in every dim but dim 0: dim 2 of `np.swapaxes(x, -1, 0)` (2) != dim 2 of x (4)
  np.swapaxes(x, -1, 0): 4x3x2 (inferred from its operands; not run again)
  x: 2x3x4 float64""",
    ),
    Case(
        "np-derived-T-then-reshape",
        "numpy",
        ValueError,
        """\
x = np.ones((3, 4))
np.tanh(x).T.reshape(5, 3)
""",
        """\
tensorsight: in `np.tanh(x).T.reshape(5, 3)` (line 2), cannot reshape `np.tanh(x).T` (4x3, 12 elements) into 5x3 (15 elements)
  np.tanh(x).T: 4x3 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-mT",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.cat([torch.tanh(x).mT, x])
""",
        """\
tensorsight: in `torch.cat([torch.tanh(x).mT, x])` (line 2), torch.cat of shapes 2x4x3, 2x3x4 needs equal sizes in every dim but dim 0: dim 1 of `torch.tanh(x).mT` (4) != dim 1 of x (3)
  torch.tanh(x).mT: 2x4x3 cpu (inferred from its operands; not run again)
  x: 2x3x4 float32 cpu""",
    ),
    Case(
        "torch-derived-flatten",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.cat([x.flatten(1), torch.ones(2, 10)], dim=0)
""",
        """\
tensorsight: in `torch.cat([x.flatten(1), torch.ones(2, 10)], dim=0)` (line 2), torch.cat of shapes 2x12, 2x10 needs equal sizes in every dim but dim 0: dim 1 of `x.flatten(1)` (12) != dim 1 of `torch.ones(2, 10)` (10)
  x.flatten(1): 2x12 cpu (inferred from its operands; not run again)
  torch.ones(2, 10): 2x10 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-squeeze-then-view",
        "torch",
        RuntimeError,
        """\
x = torch.ones(1, 3, 1, 4)
x.squeeze().view(5, 2)
""",
        """\
tensorsight: in `x.squeeze().view(5, 2)` (line 2), cannot view `x.squeeze()` (3x4, 12 elements) as 5x2 (10 elements)
  x.squeeze(): 3x4 cpu (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-unsqueeze-negative-dim",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
torch.cat([x.unsqueeze(-1), torch.ones(3, 4)])
""",
        """\
tensorsight: in `torch.cat([x.unsqueeze(-1), torch.ones(3, 4)])` (line 2), torch.cat of shapes 3x4x1, 3x4 needs arrays with the same number of dims: `x.unsqueeze(-1)` is 3-D, `torch.ones(3, 4)` is 2-D
  x.unsqueeze(-1): 3x4x1 cpu (inferred from its operands; not run again)
  torch.ones(3, 4): 3x4 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-derived-reshape-minus-one",
        "numpy",
        ValueError,
        """\
x = np.ones((3, 4))
np.concatenate([x.reshape(-1, 6), np.ones((2, 5))])
""",
        """\
tensorsight: in `np.concatenate([x.reshape(-1, 6), np.ones((2, 5))])` (line 2), np.concatenate of shapes 2x6, 2x5 needs equal sizes in every dim but dim 0: dim 1 of `x.reshape(-1, 6)` (6) != dim 1 of `np.ones((2, 5))` (5)
  x.reshape(-1, 6): 2x6 (inferred from its operands; not run again)
  np.ones((2, 5)): 2x5 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-derived-container-indexed",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
np.tanh(x)[5]
""",
        """\
tensorsight: in `np.tanh(x)[5]` (line 2), index 5 is out of range for dim 0 of `np.tanh(x)` (size 3, valid -3..2); `np.tanh(x)` is 3x4
  np.tanh(x): 3x4 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-derived-slice",
        "numpy",
        ValueError,
        """\
x = np.ones((3, 4))
np.concatenate([np.tanh(x)[:, 1:], np.ones((3, 4))], axis=0)
""",
        """\
tensorsight: in `np.concatenate([np.tanh(x)[:, 1:], np.ones((3, 4))], axis=0)` (line 2), np.concatenate of shapes 3x3, 3x4 needs equal sizes in every dim but dim 0: dim 1 of `np.tanh(x)[:, 1:]` (3) != dim 1 of `np.ones((3, 4))` (4)
  np.tanh(x)[:, 1:]: 3x3 (inferred from its operands; not run again)
  np.ones((3, 4)): 3x4 (inferred from its operands; not run again)""",
    ),
    Case(
        "np-concatenate-zero-dim",
        "numpy",
        ValueError,
        """\
a = np.ones(())
np.concatenate([a, a])
""",
        """\
tensorsight: in `np.concatenate([a, a])` (line 2), np.concatenate of shapes scalar, scalar needs arrays of at least 1 dim to join: a, a are scalars
  a: scalar float64
  a: scalar float64""",
    ),
    Case(
        "torch-cat-zero-dim-derived",
        "torch",
        RuntimeError,
        """\
x = torch.ones(3, 4)
torch.cat([x.sum(), x])
""",
        """\
tensorsight: in `torch.cat([x.sum(), x])` (line 2), torch.cat of shapes scalar, 3x4 needs arrays of at least 1 dim to join: `x.sum()` is a scalar
  x.sum(): scalar cpu (inferred from its operands; not run again)
  x: 3x4 float32 cpu""",
    ),
    Case(
        "np-fancy-index-bad-value",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
rows = np.array([[0, 1], [2, 7]])
x[rows]
""",
        """\
tensorsight: in `x[rows]` (line 3), index 7 in index array rows (2x2 int64) is out of range for dim 0 of x (size 3, valid -3..2); x is 3x4
  x: 3x4 float64
  rows: 2x2 int64""",
    ),
    Case(
        "np-fancy-index-second-dim",
        "numpy",
        IndexError,
        """\
x = np.ones((2, 3))
idx = np.array([[0, 3]])
y = x[:, idx]
""",
        """\
tensorsight: in `x[:, idx]` (line 3), index 3 in index array idx (1x2 int64) is out of range for dim 1 of x (size 3, valid -3..2); x is 2x3
  x: 2x3 float64
  idx: 1x2 int64""",
    ),
    Case(
        "np-fancy-index-arrays-do-not-broadcast",
        "numpy",
        IndexError,
        """\
x = np.ones((3, 4))
rows = np.array([0, 1, 2])
cols = np.array([0, 1, 2, 3])
x[rows, cols]
""",
        """\
tensorsight: in `x[rows, cols]` (line 4), index arrays rows (3), cols (4) of [rows, cols] do not broadcast together: dim 0 of rows (3) != dim 0 of cols (4)
  x: 3x4 float64
  rows: 3 int64
  cols: 4 int64""",
    ),
    Case(
        "torch-multihead-attention-embed-dim",
        "torch",
        AssertionError,
        """\
attn = nn.MultiheadAttention(16, 4)
q = torch.ones(5, 2, 8)
attn(q, q, q)
""",
        """\
tensorsight: in `attn(q, q, q)` (line 3), attn is MultiheadAttention(embed_dim=16, num_heads=4, batch_first=False): query q is 5x2x8 but dim 2 should be 16 (embed_dim)
  q: 5x2x8 float32 cpu
  q: 5x2x8 float32 cpu
  q: 5x2x8 float32 cpu""",
    ),
    Case(
        "torch-multihead-attention-key-value",
        "torch",
        AssertionError,
        """\
attn = nn.MultiheadAttention(16, 4)
q = torch.ones(5, 2, 16)
k = torch.ones(6, 2, 16)
v = torch.ones(7, 2, 16)
attn(q, k, v)
""",
        """\
tensorsight: in `attn(q, k, v)` (line 5), attn is MultiheadAttention(embed_dim=16, num_heads=4, batch_first=False): key and value should agree in every dim but the last: dim 0 of k (6) != dim 0 of v (7)
  q: 5x2x16 float32 cpu
  k: 6x2x16 float32 cpu
  v: 7x2x16 float32 cpu""",
    ),
    Case(
        "torch-multihead-attention-batch-first",
        "torch",
        RuntimeError,
        """\
attn = nn.MultiheadAttention(16, 4, batch_first=True)
q = torch.ones(2, 5, 16)
kv = torch.ones(3, 6, 16)
attn(q, kv, kv)
""",
        """\
tensorsight: in `attn(q, kv, kv)` (line 4), attn is MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True): query and key should have the same batch size (dim 0, batch_first=True): dim 0 of q (2) != dim 0 of kv (3)
  q: 2x5x16 float32 cpu
  kv: 3x6x16 float32 cpu
  kv: 3x6x16 float32 cpu""",
    ),
    Case(
        "torch-multihead-attention-kdim-in-forward",
        "torch",
        AssertionError,
        """\
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = nn.MultiheadAttention(16, 4, kdim=8, vdim=8)

    def forward(self, x, memory):
        return self.attn(x, memory, memory)

Block()(torch.ones(5, 2, 16), torch.ones(6, 2, 16))
""",
        """\
tensorsight: in `self.attn(x, memory, memory)` (line 7), self.attn is MultiheadAttention(embed_dim=16, num_heads=4, kdim=8, vdim=8, batch_first=False): key memory is 6x2x16 but dim 2 should be 8 (kdim)
  x: 5x2x16 float32 cpu
  memory: 6x2x16 float32 cpu
  memory: 6x2x16 float32 cpu""",
    ),
    Case(
        "torch-multihead-attention-inside-library-layer",
        "torch",
        AssertionError,
        """\
layer = nn.TransformerEncoderLayer(d_model=16, nhead=4)
x = torch.ones(5, 2, 8)
layer(x)
""",
        """\
tensorsight: in `layer(x)` (line 3), layer.self_attn is MultiheadAttention(embed_dim=16, num_heads=4, batch_first=False): query is 5x2x8 but dim 2 should be 16 (embed_dim)
  query of layer.self_attn: 5x2x8 float32 cpu
  key of layer.self_attn: 5x2x8 float32 cpu
  value of layer.self_attn: 5x2x8 float32 cpu""",
    ),
    Case(
        "np-derived-concatenate-then-reshape",
        "numpy",
        ValueError,
        """\
a = np.ones((3, 1))
c = np.ones((3, 2))
np.tanh(np.concatenate([a, c], axis=-1).reshape(6, 3))
""",
        """\
tensorsight: in `np.concatenate([a, c], axis=-1).reshape(6, 3)` (line 3), cannot reshape `np.concatenate([a, c], axis=-…` (3x3, 9 elements) into 6x3 (18 elements)
  np.concatenate([a, c], axis=-1): 3x3 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-stack-new-dim",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3)
torch.cat([torch.stack([x, x], dim=-1), x])
""",
        """\
tensorsight: in `torch.cat([torch.stack([x, x], dim=-1), x])` (line 2), torch.cat of shapes 2x3x2, 2x3 needs arrays with the same number of dims: `torch.stack([x, x], dim=-1)` is 3-D, x is 2-D
  torch.stack([x, x], dim=-1): 2x3x2 cpu (inferred from its operands; not run again)
  x: 2x3 float32 cpu""",
    ),
    Case(
        "torch-dim-out-of-range-transpose",
        "torch",
        IndexError,
        """\
b = torch.ones(3)
b.transpose(0, -2)
""",
        """\
tensorsight: in `b.transpose(0, -2)` (line 2), b.transpose got -2 for a dim, but b is 1-D (3): valid -1..0
  b: 3 float32 cpu""",
    ),
    Case(
        "np-axis-out-of-range-sum",
        "numpy",
        np.exceptions.AxisError,
        """\
x = np.ones((2, 3))
x.sum(axis=2)
""",
        """\
tensorsight: in `x.sum(axis=2)` (line 2), x.sum got 2 for a dim, but x is 2-D (2x3): valid -2..1
  x: 2x3 float64""",
    ),
    Case(
        "torch-dim-out-of-range-softmax",
        "torch",
        IndexError,
        """\
x = torch.ones(2, 3)
torch.softmax(x, dim=2)
""",
        """\
tensorsight: in `torch.softmax(x, dim=2)` (line 2), torch.softmax got 2 for a dim, but x is 2-D (2x3): valid -2..1
  x: 2x3 float32 cpu""",
    ),
    Case(
        "torch-unsqueeze-position-out-of-range",
        "torch",
        IndexError,
        """\
x = torch.ones(2, 3)
x.unsqueeze(3)
""",
        """\
tensorsight: in `x.unsqueeze(3)` (line 2), x.unsqueeze got 3 for a position in the result, but x is 2-D (2x3): valid -3..2
  x: 2x3 float32 cpu""",
    ),
    Case(
        "np-swapaxes-axis-out-of-range",
        "numpy",
        np.exceptions.AxisError,
        """\
x = np.ones((2, 3))
np.swapaxes(x, 0, 2)
""",
        """\
tensorsight: in `np.swapaxes(x, 0, 2)` (line 2), np.swapaxes got 2 for a dim, but x is 2-D (2x3): valid -2..1
  x: 2x3 float64""",
    ),
    Case(
        "np-derived-einsum-then-axis-out-of-range",
        "numpy",
        np.exceptions.AxisError,
        """\
a = np.ones((2, 3))
b = np.ones((3, 4))
np.einsum('ij,jk->ik', a, b).sum(axis=2)
""",
        """\
tensorsight: in `np.einsum('ij,jk->ik', a, b).sum(axis=2)` (line 3), np.einsum('ij,jk->ik', a, b).sum got 2 for a dim, but `np.einsum('ij,jk->ik', a, b)` is 2-D (2x4): valid -2..1
  np.einsum('ij,jk->ik', a, b): 2x4 (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-zero-dim-reduction",
        "torch",
        IndexError,
        """\
x = torch.ones(())
x.mean(-1, keepdim=True).unsqueeze(2)
""",
        """\
tensorsight: in `x.mean(-1, keepdim=True).unsqueeze(2)` (line 2), x.mean(-1, keepdim=True).unsqueeze got 2 for a position in the result, but `x.mean(-1, keepdim=True)` is 0-D (scalar): valid -1..0
  x.mean(-1, keepdim=True): scalar cpu (inferred from its operands; not run again)""",
    ),
    Case(
        "torch-derived-reshape-and-view",
        "torch",
        RuntimeError,
        """\
x = torch.ones(2, 3, 4)
torch.stack([x.reshape(6, -1), x.view(2, 12)])
""",
        """\
tensorsight: in `torch.stack([x.reshape(6, -1), x.view(2, 12)])` (line 2), torch.stack of shapes 6x4, 2x12 needs equal shapes: dim 0 of `x.reshape(6, -1)` (6) != dim 0 of `x.view(2, 12)` (2)
  x.reshape(6, -1): 6x4 cpu (inferred from its operands; not run again)
  x.view(2, 12): 2x12 cpu (inferred from its operands; not run again)""",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_note(case: Case, tmp_path: Path) -> None:
    error, _ = run_case(case, tmp_path)
    assert [note for note in error.__notes__ if note.startswith("tensorsight:")] == [case.note]


def every_case() -> list[Case]:
    return [*EXISTING, *CASES]


@pytest.mark.parametrize("case", every_case(), ids=[case.name for case in every_case()])
def test_every_note_draws_as_text_and_svg(case: Case, tmp_path: Path) -> None:
    """The drawing paths run in strict mode too: a note's diagram never fails inside clarify."""
    path = tmp_path / f"{case.name}.py"
    path.write_text(textwrap.dedent(case.code))
    block = clarify(diagram=True, width=60, **case.options)
    with pytest.raises(case.error) as caught, block:
        exec(compile(path.read_text(), str(path), "exec"), namespace(case.framework))
    ours = [note for note in caught.value.__notes__ if note.startswith("tensorsight:")]
    assert len(ours) == 1 and ours[0].startswith(case.note.splitlines()[0])
    assert block.clarification is not None
    ET.fromstring(block.clarification.diagram().svg())

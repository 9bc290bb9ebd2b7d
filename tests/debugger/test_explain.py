"""explain(): exact drawings for real NumPy / PyTorch / JAX code, and its semantics.

Expected texts name lines as ``:@N`` = the first line of the function under test + N, so the
expectations survive edits above them.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tensorsight.debugger.tracing import Explanation, explain

torch = pytest.importorskip("torch")
F = torch.nn.functional


def expected(function: Callable[..., Any], text: str) -> str:
    first = function.__code__.co_firstlineno
    return re.sub(r":@(\d+)", lambda match: f":{first + int(match[1])}", text)


def mlp_forward(out: io.StringIO) -> Explanation:
    torch.manual_seed(0)
    x = torch.randn(32, 784)
    W1, b1 = torch.randn(784, 128), torch.zeros(128)
    W2, b2 = torch.randn(128, 10), torch.zeros(10)
    with explain(file=out) as shapes:
        h = torch.relu(x @ W1 + b1)
        logits = h @ W2 + b2
        labels = logits.argmax(dim=1)
    assert labels.shape == (32,)
    return shapes


def test_two_layer_mlp_forward() -> None:
    out = io.StringIO()
    shapes = mlp_forward(out)
    assert out.getvalue() == expected(mlp_forward, """\
test_explain.py:@6 in mlp_forward  [torch float32]
h = torch.relu(x @ W1 + b1)
               ^ 32x784 └┘ 128
                   └┘ 784x128
               └────┘ 32x128
               └─────────┘ 32x128
    └─────────────────────┘ 32x128

test_explain.py:@7 in mlp_forward  [torch float32]
logits = h @ W2 + b2
         ^ 32x128 └┘ 10
             └┘ 128x10
         └────┘ 32x10
         └─────────┘ 32x10

test_explain.py:@8 in mlp_forward  [torch int64]
labels = logits.argmax(dim=1)
         └────┘ 32x10
         └──────────────────┘ 32 int64

explain summary: 3 statements, 3 shape signatures
  test_explain.py:@6  h = torch.relu(x @ W1 + b1)
      x 32x784, W1 784x128, b1 128 → 32x128
  test_explain.py:@7  logits = h @ W2 + b2
      h 32x128, W2 128x10, b2 10 → 32x10
  test_explain.py:@8  labels = logits.argmax(dim=1)
      logits 32x10 → 32 int64
""")
    first = shapes.statements[0]
    assert first.source == "h = torch.relu(x @ W1 + b1)"
    assert [(op.source, op.shape, op.dtype) for op in first.operands] == [
        ("x", (32, 784), "float32"),
        ("W1", (784, 128), "float32"),
        ("x @ W1", (32, 128), "float32"),
        ("b1", (128,), "float32"),
        ("x @ W1 + b1", (32, 128), "float32"),
        ("torch.relu(x @ W1 + b1)", (32, 128), "float32"),
    ]
    line = mlp_forward.__code__.co_firstlineno + 6
    assert [(op.span.line, op.span.col, op.span.end_col) for op in first.operands[:3]] == [
        (line, 23, 24), (line, 27, 29), (line, 23, 29)]


def attention(out: io.StringIO) -> Explanation:
    batch, heads, tokens, d = 2, 4, 6, 8
    Q = torch.randn(batch, heads, tokens, d)
    K = torch.randn(batch, heads, tokens, d)
    V = torch.randn(batch, heads, tokens, d)
    with explain(file=out) as shapes:
        scores = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(d), dim=-1) @ V
        merged = scores.transpose(1, 2).reshape(batch, tokens, heads * d)
    assert merged.shape == (batch, tokens, heads * d)
    return shapes


def test_self_attention_with_batch_and_heads() -> None:
    out = io.StringIO()
    attention(out)
    assert out.getvalue() == expected(attention, """\
test_explain.py:@6 in attention  [torch float32]
scores = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(d), dim=-1) @ V
                       ^ 2x4x6x8                                 2x4x6x8 ^
                           ^ 2x4x6x8
                           └─────────────────┘ 2x4x8x6
                       └─────────────────────┘ 2x4x6x6
                       └────────────────────────────────────┘ 2x4x6x6
         └───────────────────────────────────────────────────────────┘ 2x4x6x6
 2x4x6x8 └───────────────────────────────────────────────────────────────┘

test_explain.py:@7 in attention  [torch float32]
merged = scores.transpose(1, 2).reshape(batch, tokens, heads * d)
         └────┘ 2x4x6x8
         └────────────────────┘ 2x6x4x8
         └──────────────────────────────────────────────────────┘ 2x6x32

explain summary: 2 statements, 2 shape signatures
  test_explain.py:@6  scores = torch.softmax(Q @ K.transpose(-2, -1) / math.sqr…
      Q 2x4x6x8, K 2x4x6x8, V 2x4x6x8 → 2x4x6x8
  test_explain.py:@7  merged = scores.transpose(1, 2).reshape(batch, tokens, he…
      scores 2x4x6x8 → 2x6x32
""")
    assert all(len(line) <= 80 for line in out.getvalue().splitlines())


class SmallCNN(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 4, kernel_size=3, padding=1)
        self.fc = torch.nn.Linear(4 * 14 * 14, 10)

    def forward(self, images: Any) -> Any:
        x = F.max_pool2d(torch.relu(self.conv(images)), 2)
        x = x.view(x.shape[0], -1)
        return self.fc(torch.flatten(x, 1))


def cnn(out: io.StringIO) -> Explanation:
    torch.manual_seed(0)
    net = SmallCNN()
    images = torch.randn(8, 1, 28, 28)
    with explain(file=out, calls=True) as shapes:
        logits = net(images)
    assert logits.shape == (8, 10)
    return shapes


def test_cnn_forward_with_view_and_flatten_followed_into_forward() -> None:
    out = io.StringIO()
    cnn(out)
    forward = expected(SmallCNN.forward, """\
test_explain.py:@1 in forward  [torch float32]
x = F.max_pool2d(torch.relu(self.conv(images)), 2)
                                      └────┘ 8x1x28x28
                            └───────────────┘ 8x4x28x28
                 └───────────────────────────┘ 8x4x28x28
    └────────────────────────────────────────────┘ 8x4x14x14

test_explain.py:@2 in forward  [torch float32]
x = x.view(x.shape[0], -1)
    ^ 8x4x14x14
           ^ 8x4x14x14
    └────────────────────┘ 8x784

test_explain.py:@3 in forward  [torch float32]
return self.fc(torch.flatten(x, 1))
                             ^ 8x784
               └─────────────────┘ 8x784
       └──────────────────────────┘ 8x10

""")
    caller = expected(cnn, """\
test_explain.py:@5 in cnn  [torch float32]
logits = net(images)
             └────┘ 8x1x28x28
         └─────────┘ 8x10

""")
    summary = expected(cnn, """\
explain summary: 4 statements, 4 shape signatures
  test_explain.py:@5  logits = net(images)
      images 8x1x28x28 → 8x10
""")
    summary += expected(SmallCNN.forward, """\
  test_explain.py:@1  x = F.max_pool2d(torch.relu(self.conv(images)), 2)
      images 8x1x28x28 → 8x4x14x14
  test_explain.py:@2  x = x.view(x.shape[0], -1)
      x 8x4x14x14 → 8x784
  test_explain.py:@3  return self.fc(torch.flatten(x, 1))
      x 8x784 → 8x10
""")
    assert out.getvalue() == forward + caller + summary


def loop(out: io.StringIO) -> Explanation:
    data = np.arange(14 * 3, dtype=np.float32).reshape(14, 3)
    W = np.ones((3, 2), np.float32)
    with explain(file=out) as shapes:
        for start in range(0, 14, 4):
            batch = data[start : start + 4]
            y = batch @ W
    assert y.shape == (2, 2)
    return shapes


def test_loop_shows_each_shape_signature_once() -> None:
    out = io.StringIO()
    shapes = loop(out)
    drawn, summary = out.getvalue().split("explain summary")
    assert drawn.count("y = batch @ W\n") == 2  # a 4-row batch three times, then a 2-row one
    assert "explain summary" + summary == expected(loop, """\
explain summary: 2 statements, 4 shape signatures
  test_explain.py:@5  batch = data[start : start + 4]
      data 14x3 → 4x3 (x3)
      data 14x3 → 2x3
  test_explain.py:@6  y = batch @ W
      batch 4x3, W 3x2 → 4x2 (x3)
      batch 2x3, W 3x2 → 2x2
""")
    assert [(s.line, s.operands[-1].shape, s.count) for s in shapes.statements] == [
        (loop.__code__.co_firstlineno + 5, (4, 3), 3),
        (loop.__code__.co_firstlineno + 6, (4, 2), 3),
        (loop.__code__.co_firstlineno + 5, (2, 3), 1),
        (loop.__code__.co_firstlineno + 6, (2, 2), 1),
    ]


def heads_concat(out: io.StringIO) -> Explanation:
    heads = [torch.ones(8, 4) * k for k in range(3)]
    x = torch.ones(5, 8)
    with explain(file=out) as shapes:
        y = torch.cat([x @ W for W in heads], dim=-1)
    assert y.shape == (5, 12)
    return shapes


def test_comprehension_element_is_labelled_from_its_first_item() -> None:
    out = io.StringIO()
    shapes = heads_concat(out)
    assert out.getvalue() == expected(heads_concat, """\
test_explain.py:@4 in heads_concat  [torch float32]
y = torch.cat([x @ W for W in heads], dim=-1)
               ^ 5x8
                   ^ 8x4
               └───┘ 5x4
    └───────────────────────────────────────┘ 5x12

explain summary: 1 statement, 1 shape signature
  test_explain.py:@4  y = torch.cat([x @ W for W in heads], dim=-1)
      x 5x8, W 8x4 → 5x12
""")
    assert shapes.statements[0].count == 1

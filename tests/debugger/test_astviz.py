"""astviz(): the expression tree with the shape at every node, each node evaluated once."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from tensorsight.debugger import astviz

torch = pytest.importorskip("torch")
SVG = "{http://www.w3.org/2000/svg}"


def rnn_namespace(x_features: int = 10) -> dict[str, Any]:
    d = 64
    return {
        "torch": torch,
        "W": torch.randn(d, d),
        "U": torch.randn(d, x_features),
        "x": torch.randn(1, x_features),
        "r": torch.randn(d, 1),
        "h": torch.randn(d, 1),
        "b": torch.randn(d, 1),
    }


def test_rnn_update_tree_as_text() -> None:
    namespace = rnn_namespace()
    h_before = namespace["h"]
    tree = astviz("h = torch.tanh(W @ (r*h) + U @ x.T + b)", namespace)
    assert (
        tree.text()
        == """\
h =                          64x1
└── torch.tanh()             64x1
    └── +                    64x1
        ├── +                64x1
        │   ├── @            64x1
        │   │   ├── W        64x64
        │   │   └── *        64x1
        │   │       ├── r    64x1
        │   │       └── h    64x1
        │   └── @            64x1
        │       ├── U        64x10
        │       └── .T       10x1
        │           └── x    1x10
        └── b                64x1"""
    )
    assert namespace["h"] is h_before  # the assignment is drawn, not performed
    assert tree.error is None


def test_failing_expression_marks_the_failing_node_and_keeps_the_error() -> None:
    tree = astviz("h = torch.tanh(W @ (r*h) + U @ x + b)", rnn_namespace())
    assert (
        tree.text()
        == """\
h =                          ?
└── torch.tanh()             ?
    └── +                    ?
        ├── +                ?
        │   ├── @            64x1
        │   │   ├── W        64x64
        │   │   └── *        64x1
        │   │       ├── r    64x1
        │   │       └── h    64x1
        │   └── @            ✗ failed here
        │       ├── U        64x10
        │       └── x        1x10
        └── b                ?
RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x10 and 1x10)"""
    )
    assert isinstance(tree.error, RuntimeError)


def test_every_node_is_evaluated_exactly_once() -> None:
    calls: list[tuple[int, ...]] = []
    reads: list[str] = []

    def g(value: np.ndarray) -> np.ndarray:
        calls.append(value.shape)
        return value + 1

    class Holder:
        @property
        def weight(self) -> np.ndarray:
            reads.append("weight")
            return np.ones((3, 2), np.float32)

    namespace = {"g": g, "x": np.ones((4, 3)), "m": Holder(), "np": np}
    tree = astviz("np.maximum(g(x) @ m.weight, g(x)[:, :2]).astype(np.int32)", namespace)
    assert calls == [(4, 3), (4, 3)]  # two call nodes, one call each
    assert reads == ["weight"]
    assert (
        tree.text()
        == """\
.astype()              4x2 int32
├── np.maximum()       4x2
│   ├── @              4x2
│   │   ├── g()        4x3
│   │   │   └── x      4x3
│   │   └── .weight    3x2
│   │       └── m      Holder
│   └── []             4x2
│       ├── g()        4x3
│       │   └── x      4x3
│       └── (,)
│           ├── :
│           └── :2
└── np.int32"""
    )


def test_svg_is_well_formed_with_a_box_per_node() -> None:
    tree = astviz(
        "y = torch.relu(x @ W)", {"torch": torch, "x": torch.ones(2, 3), "W": torch.ones(3, 5)}
    )
    root = ET.fromstring(tree.svg())
    texts = [element.text for element in root.iter(f"{SVG}text")]
    for label in ("y =", "torch.relu()", "@", "x", "W", "2x5", "2x3", "3x5"):
        assert label in texts
    assert len(list(root.iter(f"{SVG}rect"))) == 1 + 5  # background + one box per node
    ET.fromstring(tree._repr_svg_())


def test_namespace_defaults_to_the_callers_variables() -> None:
    a = np.arange(6).reshape(2, 3)
    tree = astviz("a.T @ a")
    assert a.shape == (2, 3)  # still the caller's own array
    assert (
        tree.text()
        == """\
@            3x3 int64
├── .T       3x2 int64
│   └── a    2x3 int64
└── a        2x3 int64"""
    )


@pytest.mark.parametrize("source", ["x = 1; y = 2", "for i in x: pass", "x +"])
def test_rejects_what_is_not_one_expression(source: str) -> None:
    with pytest.raises(ValueError, match="astviz"):
        astviz(source, {"x": [1]})

# ruff: noqa: E501  (a golden note has one long headline)
"""The box diagrams: golden text at fixed widths, rich output with and without colour, SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tensorsight import clarify
from tensorsight.debugger.render import SVG_COLOURS, Box, Diagram

SVG = "{http://www.w3.org/2000/svg}"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

MATMUL_2D = """\
h: 32x128 float32       W: 64x10 float32
   ┌──────────────┐          ┎───────┐
   │              │          ┃       │
32 │              │  @  *64* ┃       │
   │              │          ┃       │
   ┕━━━━━━━━━━━━━━┙          ┖───────┘
        *128*                   10
*n* marks the dimensions that disagree
"""

MATMUL_4D = """\
q: 2x8x16x64                  k: 2x8x32x16
                                       ┌────────┐ 2x8
       ┌────────────┐ 2x8            ┌────────┐ │
     ┌────────────┐ │              ┎────────┐ │ │
   ┌────────────┐ │ │              ┃        │ │ │
16 │            │ │─┘      @  *32* ┃        │ │─┘
   │            │─┘                ┃        │─┘
   ┕━━━━━━━━━━━━┙                  ┖────────┘
        *64*                           16
*n* marks the dimensions that disagree
"""

WRAPPED_AT_40 = """\
a: 8x3x4              b: 5
      ┍━━━━━┑ *8*
    ┍━━━━━┑ │
  ┌─────┐ │─┘
3 │     │─┘        +  ┌─────┐  *
  └─────┘             ┕━━━━━┙
     4                  *5*
s: scalar     f(x): ?
[•]        -  [?]
*n* marks the dimensions that disagree
"""

CONV_INPUT = """\
x: 2x1x28x28                   conv expects: Nx3xHxW
       ┍━━━━━━━━━━┑ 2x*1*            ┍━━━━━━━━━━┑ Nx*3*
     ┍━━━━━━━━━━┑ │                ┍━━━━━━━━━━┑ │
   ┌──────────┐ │ │              ┌──────────┐ │ │
28 │          │ │─┘        vs  H │          │ │─┘
   │          │─┘                │          │─┘
   └──────────┘                  └──────────┘
        28                            W
*n* marks the dimensions that disagree
"""


def matmul_2d() -> Diagram:
    return Diagram([Box("h", (32, 128), {1}, "float32"), "@", Box("W", (64, 10), {0}, "float32")])


def test_matmul_2d_text() -> None:
    assert matmul_2d().text(80) + "\n" == MATMUL_2D


def test_batched_4d_operands_are_stacked_with_leading_sizes_written() -> None:
    diagram = Diagram([Box("q", (2, 8, 16, 64), {3}), "@", Box("k", (2, 8, 32, 16), {2})])
    assert diagram.text(80) + "\n" == MATMUL_4D


def test_narrow_width_wraps_between_boxes() -> None:
    diagram = Diagram(
        [
            Box("a", (8, 3, 4), {0}),
            "+",
            Box("b", (5,), {0}),
            "*",
            Box("s", ()),
            "-",
            Box("f(x)", None),
        ]
    )
    text = diagram.text(40)
    assert text + "\n" == WRAPPED_AT_40
    assert max(len(line) for line in text.splitlines()) <= 40


def test_symbolic_dims_for_what_a_layer_expects() -> None:
    diagram = Diagram(
        [Box("x", (2, 1, 28, 28), {1}), "vs", Box("conv expects", ("N", 3, "H", "W"), {1})]
    )
    assert diagram.text(80) + "\n" == CONV_INPUT


def test_no_legend_without_highlighted_dims() -> None:
    assert "disagree" not in Diagram([Box("x", (3, 4))]).text(80)


def render_rich(renderable: object, monkeypatch: pytest.MonkeyPatch, no_color: bool) -> str:
    from rich.console import Console

    if no_color:
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    console = Console(width=80, force_terminal=True, color_system="standard", record=False)
    with console.capture() as captured:
        console.print(renderable)
    return captured.get()


def test_rich_colours_disagreeing_dims_red(monkeypatch: pytest.MonkeyPatch) -> None:
    output = render_rich(matmul_2d(), monkeypatch, no_color=False)
    assert "\x1b[1;31m*64*\x1b[0m" in output
    assert ANSI.sub("", output) == MATMUL_2D


def test_rich_honours_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    output = render_rich(matmul_2d(), monkeypatch, no_color=True)
    colour_codes = [code for code in ANSI.findall(output) if re.search(r"\[(?:.*;)?3\d", code)]
    assert colour_codes == []
    assert ANSI.sub("", output) == MATMUL_2D


def parse_svg(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return root


def test_svg_is_well_formed_and_marks_disagreeing_edges() -> None:
    root = parse_svg(matmul_2d().svg())
    texts = [element.text for element in root.iter(f"{SVG}text")]
    assert {"h: 32x128 float32", "W: 64x10 float32", "128", "64", "@"} <= set(texts)
    lines = root.iter(f"{SVG}line")
    red_edges = [line for line in lines if line.get("stroke") == SVG_COLOURS["bad"]]
    assert len(red_edges) == 2  # the bottom edge of h (dim 1) and the left edge of W (dim 0)
    assert len(list(root.iter(f"{SVG}rect"))) == 2


def test_svg_stacks_3d_and_4d_and_escapes_labels() -> None:
    diagram = Diagram([Box('p["w"] < 3 & q', (2, 8, 16, 64), {0}), "@", Box("k", (8, 32, 16))])
    root = parse_svg(diagram.svg())
    assert len(list(root.iter(f"{SVG}rect"))) == 6  # three layers per stacked operand
    assert 'p["w"] < 3 & q: 2x8x16x64' in [element.text for element in root.iter(f"{SVG}text")]


def test_clarification_renders_for_jupyter() -> None:
    h, w = np.ones((32, 128)), np.ones((64, 10))
    block = clarify(diagram=False)
    with pytest.raises(ValueError), block:
        h @ w
    assert block.clarification is not None
    bundle = block.clarification._repr_mimebundle_()
    assert set(bundle) == {"image/svg+xml", "text/plain"}
    parse_svg(bundle["image/svg+xml"])
    parse_svg(block.clarification._repr_svg_())
    assert bundle["text/plain"].startswith("tensorsight: in `h @ w`")


def linear_layer_fails(torch) -> None:  # type: ignore[no-untyped-def]
    fc = torch.nn.Linear(128, 10)
    x = torch.ones(32, 64)
    fc(x)


LINEAR_NOTE = """\
tensorsight: in `fc(x)` (line {line}), fc is Linear(in_features=128, out_features=10, bias=True): input x is 32x64 but dim 1 should be 128 (in_features)
  x: 32x64 float32 cpu

x: 32x64 float32 cpu      fc expects: 32x128
   ┌────────────┐            ┌──────────────┐
   │            │            │              │
32 │            │     vs  32 │              │
   │            │            │              │
   ┕━━━━━━━━━━━━┙            ┕━━━━━━━━━━━━━━┙
        *64*                      *128*
*n* marks the dimensions that disagree"""


def test_full_note_with_diagram_for_a_layer_at_80_columns() -> None:
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError) as caught, clarify(width=80):
        linear_layer_fails(torch)
    line = linear_layer_fails.__code__.co_firstlineno + 3
    assert caught.value.__notes__ == [LINEAR_NOTE.format(line=line)]

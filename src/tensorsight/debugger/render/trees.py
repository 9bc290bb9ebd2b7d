"""Draw what ``astviz()`` computed: the expression tree as box-drawing text and as SVG.

The text puts each node's value in a column to the right of the tree; the SVG is a box per node
(label over value) with edges to its children, laid out bottom-up so subtrees never overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from tensorsight.debugger.render.svg import Svg

if TYPE_CHECKING:
    from tensorsight.debugger.tracing.expression import ExpressionTree, TreeNode

FAILED, OK, EDGE, BORDER, CAPTION = "#d62728", "#2f855a", "#a0aec0", "#2b6cb0", "#718096"


def tree_text(tree: ExpressionTree) -> str:
    """The tree drawn with box characters, each node's value in a column on the right."""
    rows = list(_text_rows(tree.root, "", ""))
    column = max(len(prefix) for prefix, _ in rows) + 4
    lines = [f"{prefix:<{column}}{node.value_text()}".rstrip() for prefix, node in rows]
    if tree.error is not None:
        lines.append(f"{type(tree.error).__name__}: {tree.error}")
    return "\n".join(lines)


def _text_rows(node: TreeNode, prefix: str, child_prefix: str) -> Iterator[tuple[str, TreeNode]]:
    yield prefix + node.label, node
    for index, child in enumerate(node.children):
        last = index == len(node.children) - 1
        yield from _text_rows(
            child,
            child_prefix + ("└── " if last else "├── "),
            child_prefix + ("    " if last else "│   "),
        )


_CHAR, _ROW, _GAP, _PAD = 7.8, 64, 14, 8


def _box_width(node: TreeNode) -> float:
    return max(len(node.label), len(node.value_text())) * _CHAR + 2 * _PAD


def _widths(node: TreeNode, cache: dict[int, float]) -> float:
    children = sum(_widths(child, cache) for child in node.children)
    children += _GAP * max(0, len(node.children) - 1)
    cache[id(node)] = width = max(_box_width(node), children)
    return width


def _place(
    node: TreeNode,
    left: float,
    depth: int,
    widths: dict[int, float],
    out: list[tuple[TreeNode, float, int]],
) -> float:
    """Place ``node``'s subtree from ``left``; returns the node's centre x."""
    span = widths[id(node)]
    children_width = sum(widths[id(child)] for child in node.children)
    children_width += _GAP * max(0, len(node.children) - 1)
    cursor = left + (span - children_width) / 2
    for child in node.children:
        _place(child, cursor, depth + 1, widths, out)
        cursor += widths[id(child)] + _GAP
    centre = left + span / 2
    out.append((node, centre, depth))
    return centre


def tree_svg(tree: ExpressionTree) -> str:
    """The tree as SVG: a box per node (label over value), edges to children."""
    widths: dict[int, float] = {}
    total = _widths(tree.root, widths)
    placed: list[tuple[TreeNode, float, int]] = []
    _place(tree.root, _PAD, 0, widths, placed)
    where = {id(node): (x, depth) for node, x, depth in placed}
    height = (max(depth for _, _, depth in placed) + 1) * _ROW + 36
    svg = Svg()
    svg.text(_PAD, 13, tree.source, fill=CAPTION)
    for node, x, depth in placed:
        for child in node.children:
            child_x, child_depth = where[id(child)]
            svg.line(x, depth * _ROW + 52, child_x, child_depth * _ROW + 20, stroke=EDGE)
    for node, x, depth in placed:
        width, top = _box_width(node), depth * _ROW + 20
        svg.rect(
            x - width / 2,
            top,
            width,
            32,
            rx=4,
            fill="#f7fafc",
            stroke=FAILED if node.failed else BORDER,
        )
        svg.text(x, top + 13, node.label, fill="#1a202c", anchor="middle", bold=True)
        svg.text(
            x, top + 27, node.value_text(), fill=FAILED if node.failed else OK, anchor="middle"
        )
    texts = [tree.source]
    if tree.error is not None:
        message = f"{type(tree.error).__name__}: {tree.error}".splitlines()[0]
        texts.append(message)
        svg.text(_PAD, height - 4, message, fill=FAILED)
        height += 4
    width = max(total, *(len(text) * _CHAR for text in texts)) + 2 * _PAD
    return svg.document(width, height, background="white")

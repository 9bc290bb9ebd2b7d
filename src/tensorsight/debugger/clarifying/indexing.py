"""Rules for indexing: which index is out of range for which dim, which index arrays clash.

Integer index arrays (NumPy's fancy indexing) are read like any other operand: the note names
the array indexed, the index array and its shape, and the value that is out of range.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tensorsight.debugger.clarifying.context import Context
from tensorsight.debugger.clarifying.derive import derive_unknown
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import Operand
from tensorsight.debugger.clarifying.phrases import conflict_text, generic
from tensorsight.debugger.clarifying.shapes import broadcast_conflicts
from tensorsight.debugger.frames import Unreadable
from tensorsight.debugger.render import Box


@dataclass(frozen=True)
class IndexItem:
    """One item of an index, its source node (when the index is written out), its operand."""

    value: Any
    node: ast.expr | None
    operand: Operand

    @property
    def is_array(self) -> bool:
        """An integer index array (NumPy, PyTorch or JAX), not a mask."""
        dtype = self.operand.dtype or ""
        return self.operand.framework is not None and "int" in dtype and bool(self.operand.shape)


def index_items(context: Context, index: ast.expr, value: Any) -> list[IndexItem]:
    """The items of ``x[index]`` (a tuple index gives several), each with its source text."""
    values = value if isinstance(value, tuple) else (value,)
    nodes: Sequence[ast.expr | None] = (
        index.elts
        if isinstance(index, ast.Tuple) and len(index.elts) == len(values)
        else [index]
        if len(values) == 1
        else [None] * len(values)
    )
    return [
        IndexItem(item, node, Operand.of(context.text(node) if node else "index", item))
        for item, node in zip(values, nodes, strict=True)
    ]


def subscript(context: Context, node: ast.Subscript) -> Clarification | None:
    """``x[i, j]``: which index is out of range for which dim."""
    container = derive_unknown(context, [context.operand(node.value)])[0]
    if not container.is_tensor or container.shape is None:
        return None
    index_text = context.text(node.slice)
    try:
        items = index_items(context, node.slice, context.read(node.slice))
    except Unreadable:
        return generic(context, [container], f"indexing [{index_text}]")
    drawing: list[Box | str] = [container.box(), f"[{index_text}]"]
    wanted = sum(1 for item in items if item.value is not None and item.value is not Ellipsis)
    if wanted > container.ndim:
        cause = (
            f"{container.ref()} is {container.ndim}-D ({container.shape_text()}) but "
            f"[{index_text}] indexes {wanted} dims"
        )
        return context.build(cause, [container], drawing)
    clash = _arrays_clash(context, container, items, index_text)
    if clash is not None:
        return clash
    return _out_of_range(context, container, items, index_text) or generic(
        context, [container], f"indexing [{index_text}]"
    )


def _arrays_clash(
    context: Context, container: Operand, items: Sequence[IndexItem], index_text: str
) -> Clarification | None:
    """Index arrays whose shapes do not broadcast together."""
    arrays = [item.operand for item in items if item.is_array]
    shapes = [op.shape for op in arrays if op.shape is not None]
    conflicts = broadcast_conflicts(shapes) if len(shapes) > 1 else []
    if not conflicts:
        return None
    marked = list(arrays)
    texts = []
    for i, di, j, dj in conflicts:
        marked[i], marked[j] = marked[i].with_bad(di), marked[j].with_bad(dj)
        texts.append(conflict_text(marked[i], di, marked[j], dj))
    listed = ", ".join(f"{op.ref()} ({op.shape_text()})" for op in marked)
    cause = f"index arrays {listed} of [{index_text}] do not broadcast together: {'; '.join(texts)}"
    drawing: list[Box | str] = [container.box(), "[", *_joined(marked), "]"]
    return context.build(cause, [container, *marked], drawing)


def _joined(operands: Sequence[Operand]) -> list[Box | str]:
    items: list[Box | str] = []
    for op in operands:
        items += [op.box(), ","]
    return items[:-1]


def _out_of_range(
    context: Context, container: Operand, items: Sequence[IndexItem], index_text: str
) -> Clarification | None:
    """The first integer (or element of an index array) outside its dim's range."""
    assert container.shape is not None
    dim = 0
    for position, item in enumerate(items):
        if item.value is Ellipsis:  # the items after it index the last dims
            after = items[position + 1 :]
            dim = container.ndim - sum(1 for later in after if later.value is not None)
            continue
        if item.value is None:
            continue
        size = container.shape[dim] if dim < container.ndim else 0
        bad = _bad_index(item, size)
        if bad is not None:
            marked = container.with_bad(dim)
            valid = (
                f"(size {size}, valid {-size}..{size - 1}); {marked.ref()} is {marked.shape_text()}"
            )
            if item.is_array and item.operand.framework != "torch":
                array = item.operand
                cause = (
                    f"index {bad} in index array {array.ref()} ({array.shape_text()} "
                    f"{array.dtype}) is out of range for dim {dim} of {marked.ref()} {valid}"
                )
                return context.build(cause, [marked, array], [marked.box(), "[", array.box(), "]"])
            cause = f"index {bad} is out of range for dim {dim} of {marked.ref()} {valid}"
            return context.build(cause, [marked], [marked.box(), f"[{index_text}]"])
        dim += 1
    return None


def _bad_index(item: IndexItem, size: int) -> int | None:
    """The first integer in ``item`` outside ``-size..size-1``, if any."""
    value = item.value
    if isinstance(value, bool | slice):
        return None
    if isinstance(value, int):
        return value if not -size <= value < size else None
    if item.operand.framework and item.operand.dtype and "int" in item.operand.dtype:
        numpy = sys.modules["numpy"]
        flat = numpy.asarray(value.cpu() if item.operand.framework == "torch" else value).ravel()
        outside = flat[(flat >= size) | (flat < -size)]
        return int(outside[0]) if outside.size else None
    return None

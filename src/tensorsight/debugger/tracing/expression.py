"""``astviz()``: draw an expression's syntax tree with the shape of the value at every node.

``astviz`` EVALUATES the expression it is given, once, in the namespace it is given: the
expression is rewritten so that each sub-expression reports its value as Python computes it
(the same instrumentation as ``explain()``), so every node is evaluated exactly once, bottom-up,
and no node is ever evaluated a second time. An assignment is not performed: only its value is
computed, and the namespace is left as it was (whatever the expression itself mutates aside).

>>> import numpy as np
>>> tree = astviz("y = x @ W", {"x": np.ones((2, 3)), "W": np.ones((3, 4))})
>>> print(tree.text())
y =          2x4
└── @        2x4
    ├── x    2x3
    └── W    3x4
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from tensorsight.debugger.arrays import TensorInfo, describe
from tensorsight.debugger.frames import Span
from tensorsight.debugger.render.trees import tree_svg, tree_text
from tensorsight.debugger.tracing.records import Observer, activate
from tensorsight.debugger.tracing.rewrite import RECORD, SubExpression, instrument_block

OPERATORS = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.MatMult: "@",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitOr: "|",
    ast.BitAnd: "&",
    ast.BitXor: "^",
    ast.USub: "-",
    ast.UAdd: "+",
    ast.Not: "not",
    ast.Invert: "~",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.And: "and",
    ast.Or: "or",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}


@dataclass
class TreeNode:
    """One node: its label (operator, call, name), source text, and the value's description.

    ``value`` is a :class:`TensorInfo` for arrays, a short ``repr`` for small Python values, or
    None when the node was never computed (evaluation stopped before it).
    """

    label: str
    source: str
    value: TensorInfo | str | None
    children: list[TreeNode] = field(default_factory=list)
    failed: bool = False

    def value_text(self) -> str:
        """``64x1``, ``64x1 int64`` for non-float arrays, a Python value, or ``?``."""
        if isinstance(self.value, TensorInfo):
            shape = self.value.shape_text()
            return shape if self.value.dtype.startswith("float") else f"{shape} {self.value.dtype}"
        if self.failed:
            return "✗ failed here"
        return "?" if self.value is None else self.value

    def walk(self) -> Iterator[TreeNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class ExpressionTree:
    """What :func:`astviz` returns: the tree (``root``), the source, and the error if the
    evaluation raised (``error``; nodes above the failing one have no value)."""

    source: str
    root: TreeNode
    error: BaseException | None = None

    def text(self) -> str:
        """The tree drawn with box characters, each node's shape in a column on the right."""
        return tree_text(self)

    def svg(self) -> str:
        """The tree as SVG: a box per node (label over shape), edges to children."""
        return tree_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __str__(self) -> str:
        return self.text()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from rich.text import Text

        yield Text(self.text())


# ---------------------------------------------------------------------------------------------
# Evaluation: once, through the instrumented expression


class _Values(Observer):
    """Keeps a description of each slot's value (never the value itself)."""

    def __init__(self) -> None:
        self.values: dict[int, TensorInfo | str] = {}

    def observe(self, site: SubExpression, value: Any) -> None:
        info = describe(value)
        self.values[site.slot] = info if info is not None else _short(value)


def _short(value: Any) -> str:
    if isinstance(value, bool | int | float | complex | str | None):
        text = repr(value)
        return text if len(text) <= 24 else text[:23] + "…"
    if (
        isinstance(value, tuple | list)
        and len(value) <= 6
        and all(isinstance(item, int) for item in value)
    ):
        return repr(tuple(value) if isinstance(value, tuple) else value)
    return type(value).__name__


def astviz(source: str, namespace: Mapping[str, Any] | None = None) -> ExpressionTree:
    """Evaluate ``source`` (an expression or a single assignment) once in ``namespace`` and
    return its syntax tree with the shape of every node's value.

    ``namespace`` defaults to the caller's globals and locals. Each sub-expression is evaluated
    exactly once, by Python, bottom-up; an assignment's target is not assigned. If evaluation
    raises, the tree shows the shapes computed so far, marks the node that failed and keeps
    the exception in ``.error``.

    >>> import numpy as np
    >>> print(astviz("np.tanh(x).T", {"np": np, "x": np.ones((2, 3))}).text())
    .T               3x2
    └── np.tanh()    2x3
        └── x        2x3
    """
    if namespace is None:
        caller = sys._getframe(1)
        namespace = {**caller.f_globals, **caller.f_locals}
    source = source.strip()
    target, expression = _parse(source)
    to_rewrite = _parse(source)[1]  # a second copy: the rewrite replaces nodes in place
    rewritten = instrument_block(
        [ast.copy_location(ast.Expr(to_rewrite), to_rewrite)],
        "<astviz>",
        source.splitlines(keepends=True),
        "<astviz>",
        namespace,
    )
    instrumented = rewritten.body[0]
    assert isinstance(instrumented, ast.Expr)
    slots = {site.span: site.slot for site in rewritten.sites}
    code = compile(ast.Expression(instrumented.value), "<astviz>", "eval")
    scope = dict(namespace)
    scope[RECORD] = rewritten.recorder()
    observer = _Values()
    previous = activate(observer)
    error: BaseException | None = None
    try:
        eval(code, scope)
    except Exception as raised:  # the tree shows how far it got; the error is returned
        error = raised
    finally:
        activate(previous)
    root = _tree(expression, source, slots, observer.values)
    if error is not None:
        _mark_failure(root)
    if target is not None:
        root = TreeNode(f"{target} =", source, root.value, [root])
    return ExpressionTree(source, root, error)


def _parse(source: str) -> tuple[str | None, ast.expr]:
    """The assignment target's text (or None) and the expression to evaluate."""
    try:
        module = ast.parse(source, mode="exec")
    except SyntaxError as error:
        raise ValueError(f"astviz(): cannot parse {source!r}: {error.msg}") from error
    if len(module.body) != 1:
        raise ValueError(
            f"astviz() draws one expression or assignment, got {len(module.body)} statements"
        )
    statement = module.body[0]
    match statement:
        case ast.Expr(value=value):
            return None, value
        case ast.Assign(targets=targets, value=value):
            return " = ".join(ast.unparse(target) for target in targets), value
        case ast.AnnAssign(target=target, value=ast.expr() as value):
            return ast.unparse(target), value
        case _:
            raise ValueError(
                f"astviz() draws an expression or an assignment, not a "
                f"{type(statement).__name__} statement"
            )


def _tree(
    node: ast.expr, source: str, slots: Mapping[Span, int], values: Mapping[int, TensorInfo | str]
) -> TreeNode:
    """The display tree of ``node``: operands as children, values looked up by span."""
    slot = slots.get(Span.of(node))
    # Not instrumented (a tuple, a module path): nothing to show. Instrumented but never
    # reported: evaluation stopped before it (None, drawn "?").
    value = values.get(slot) if slot is not None else ""
    text = ast.get_source_segment(source, node) or ast.unparse(node)
    if _is_literal(node):
        return TreeNode(text, text, "")
    children = [_tree(child, source, slots, values) for child in _operands(node, slots)]
    return TreeNode(_label(node, slots), text, value, children)


def _is_literal(node: ast.expr) -> bool:
    """Constants, ``-1`` and slices: drawn as a leaf labelled with their source, no value."""
    match node:
        case ast.Constant() | ast.Slice():
            return True
        case ast.UnaryOp(operand=ast.Constant()):
            return True
    return False


def _operands(node: ast.expr, slots: Mapping[Span, int]) -> list[ast.expr]:
    match node:
        case ast.BinOp(left=left, right=right):
            return [left, right]
        case ast.UnaryOp(operand=operand):
            return [operand]
        case ast.BoolOp(values=items):
            return list(items)
        case ast.Compare(left=left, comparators=comparators):
            return [left, *comparators]
        case ast.Call(func=func, args=args, keywords=keywords):
            owner = (
                [func.value]
                if isinstance(func, ast.Attribute) and _evaluated(func.value, slots)
                else []
            )
            return [*owner, *args, *(keyword.value for keyword in keywords)]
        case ast.Attribute(value=value):
            return [value] if _evaluated(value, slots) else []
        case ast.Subscript(value=value, slice=index):
            return [value, index]
        case ast.Tuple(elts=items) | ast.List(elts=items):
            return list(items)
        case ast.IfExp(test=test, body=body, orelse=orelse):
            return [test, body, orelse]
        case ast.Starred(value=value) | ast.NamedExpr(value=value):
            return [value]
    return []


def _evaluated(node: ast.expr, slots: Mapping[Span, int]) -> bool:
    """Whether ``node`` is a value of its own (``x`` in ``x.T``) rather than a module path."""
    while isinstance(node, ast.Attribute):
        if Span.of(node) in slots:
            return True
        node = node.value
    return Span.of(node) in slots or not isinstance(node, ast.Name)


def _label(node: ast.expr, slots: Mapping[Span, int]) -> str:
    match node:
        case ast.BinOp(op=op) | ast.UnaryOp(op=op) | ast.BoolOp(op=op):
            return OPERATORS.get(type(op), type(op).__name__)
        case ast.Compare(ops=ops):
            return " ".join(OPERATORS.get(type(op), "?") for op in ops)
        case ast.Call(func=ast.Attribute(attr=attr, value=owner) as func):
            return f".{attr}()" if _evaluated(owner, slots) else f"{ast.unparse(func)}()"
        case ast.Call(func=func):
            return f"{ast.unparse(func)}()"
        case ast.Attribute(attr=attr, value=owner):
            return f".{attr}" if _evaluated(owner, slots) else ast.unparse(node)
        case ast.Subscript():
            return "[]"
        case ast.Tuple():
            return "(,)"
        case ast.List():
            return "[,]"
        case ast.IfExp():
            return "if else"
        case ast.Starred():
            return "*"
        case ast.NamedExpr(target=target):
            return f"{ast.unparse(target)} :="
    return ast.unparse(node)


def _mark_failure(root: TreeNode) -> None:
    """Mark the first node, bottom-up, whose operands all have values but which has none."""
    for node in _post_order(root):
        if node.value is None and all(child.value is not None for child in node.children):
            node.failed = True
            return


def _post_order(node: TreeNode) -> Iterator[TreeNode]:
    for child in node.children:
        yield from _post_order(child)
    yield node

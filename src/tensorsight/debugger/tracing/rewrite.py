"""Rewrite Python source so every sub-expression reports its value's shape as the program runs.

``x @ W + b`` becomes ``__ts_record__(4, __ts_record__(2, __ts_record__(0, x) @ ...) + ...)``: each
sub-expression is wrapped in a call that hands its value to the active observer and returns it
unchanged, so the program computes exactly what it did before, once, and every shape we show
is one the program really produced. Slots are numbered in evaluation order (post-order), which
lets an observer tell one execution of a statement from the next.

Positions of the original nodes are kept on the rewritten nodes, so tracebacks (and
``clarify()``) still point at the user's own source text.

>>> import ast
>>> unit = instrument_block(ast.parse("y = x @ W").body, "<doc>", ["y = x @ W\\n"], "f", {})
>>> [site.source for site in unit.sites]
['x', 'W', 'x @ W']
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorsight.debugger.frames import Span
from tensorsight.debugger.tracing.records import recorder_for

# Dunder names: never mangled inside class bodies, never clash with user names.
RECORD = "__ts_record__"
CALL = "__ts_call__"
OUT = "__ts_out__"


@dataclass(eq=False)
class Statement:
    """One instrumented statement (or a compound statement's header, ``for x in xs:``).

    ``lines`` are the source lines shown for it, without their common ``indent``;
    ``last_slot`` is the slot of the last sub-expression it evaluates: seeing it ends a run;
    ``table`` is its unit's sub-expressions, indexed by slot.
    """

    filename: str
    function: str
    span: Span
    lines: tuple[str, ...]
    indent: int
    last_slot: int = -1
    table: list[SubExpression] = field(default_factory=list, repr=False)

    @property
    def location(self) -> str:
        """``file.py:12``."""
        return f"{Path(self.filename).name}:{self.span.line}"


@dataclass(frozen=True)
class SubExpression:
    """One instrumented sub-expression: its slot (its index in its unit), statement, span,
    source text and the slots of the nearest instrumented sub-expressions inside it."""

    slot: int
    statement: Statement
    span: Span
    source: str
    operands: tuple[int, ...]
    repeats: bool = False  # inside a comprehension: evaluated once per item of one execution


@dataclass(frozen=True)
class Unit:
    """The instrumented statements of a block or function, with their sub-expressions.

    Slots are numbered per unit, so a unit and everything it recorded are forgotten together
    when the cache holding its compiled twin lets it go.
    """

    body: list[ast.stmt]
    statements: tuple[Statement, ...]
    sites: tuple[SubExpression, ...]

    def recorder(self) -> Callable[[int, Any], Any]:
        """The ``__ts_record__`` this unit's rewritten code calls."""
        return recorder_for(self.sites)


def _dedented(lines: Sequence[str]) -> tuple[int, tuple[str, ...]]:
    """The common indentation of ``lines`` and the lines without it (and without newlines)."""
    stripped = [line.rstrip("\r\n") for line in lines]
    indent = min((len(line) - len(line.lstrip()) for line in stripped if line.strip()), default=0)
    return indent, tuple(line[indent:] for line in stripped)


class _Rewriter:
    """Wraps sub-expressions of statements; one per :func:`instrument_block` call."""

    def __init__(
        self,
        filename: str,
        lines: Sequence[str],
        function: str,
        modules: Mapping[str, Any],
        follow_calls: bool,
    ) -> None:
        self.filename = filename
        self.lines = lines
        self.function = function
        self.modules = {
            name for name, value in modules.items() if isinstance(value, types.ModuleType)
        }
        self.follow_calls = follow_calls
        self.statements: list[Statement] = []
        self.sites: list[SubExpression] = []
        self.statement: Statement | None = None
        self.repeating = 0  # depth of comprehensions around the expression being rewritten

    # statements -------------------------------------------------------------------------------
    def body(self, statements: list[ast.stmt]) -> list[ast.stmt]:
        return [self.stmt(statement) for statement in statements]

    def stmt(self, node: ast.stmt) -> ast.stmt:
        match node:
            case ast.Expr() | ast.Assign() | ast.AugAssign() | ast.AnnAssign() | ast.Return():
                if node.value is not None:
                    with self._statement(node, node.end_lineno):
                        node.value = self.expr(node.value)
            case ast.Assert():
                with self._statement(node, node.end_lineno):
                    node.test = self.expr(node.test)
            case ast.If() | ast.While():
                with self._statement(node, node.test.end_lineno):
                    node.test = self.expr(node.test)
                node.body, node.orelse = self.body(node.body), self.body(node.orelse)
            case ast.For():
                with self._statement(node, node.iter.end_lineno):
                    node.iter = self.expr(node.iter)
                node.body, node.orelse = self.body(node.body), self.body(node.orelse)
            case ast.With():
                with self._statement(node, node.items[-1].context_expr.end_lineno):
                    for item in node.items:
                        item.context_expr = self.expr(item.context_expr)
                node.body = self.body(node.body)
            case ast.Try():
                node.body, node.orelse = self.body(node.body), self.body(node.orelse)
                node.finalbody = self.body(node.finalbody)
                for handler in node.handlers:
                    handler.body = self.body(handler.body)
        return node

    class _StatementScope:
        def __init__(self, rewriter: _Rewriter, statement: Statement) -> None:
            self.rewriter, self.statement = rewriter, statement

        def __enter__(self) -> None:
            self.rewriter.statement = self.statement

        def __exit__(self, *exc: object) -> None:
            rewriter, statement = self.rewriter, self.statement
            rewriter.statement = None
            sites = [site for site in rewriter.sites if site.statement is statement]
            if sites:
                # A statement ending inside a comprehension has no slot that surely comes last:
                # its run ends when it runs again or the block ends.
                statement.last_slot = -1 if sites[-1].repeats else sites[-1].slot
                rewriter.statements.append(statement)

    def _statement(self, node: ast.stmt, header_end: int | None) -> _StatementScope:
        """Open a statement covering ``node``'s lines up to ``header_end`` (its header)."""
        end = header_end or node.lineno
        indent, lines = _dedented(self.lines[node.lineno - 1 : end])
        end_col = node.end_col_offset if end == node.end_lineno else len(lines[-1]) + indent
        span = Span(node.lineno, node.col_offset, end, end_col or 0)
        statement = Statement(self.filename, self.function, span, lines, indent, table=self.sites)
        return self._StatementScope(self, statement)

    # expressions ------------------------------------------------------------------------------
    def expr(self, node: ast.expr, *, callee: bool = False) -> ast.expr:
        """Rewrite ``node``'s operands, then wrap ``node`` itself unless it cannot hold an array."""
        first_slot = len(self.sites)
        wrap = True
        match node:
            case ast.Name():
                wrap = not callee and node.id not in self.modules
            case ast.Constant() | ast.Lambda() | ast.Dict() | ast.Set() | ast.JoinedStr():
                wrap = False
            case ast.ListComp() | ast.SetComp() | ast.DictComp() | ast.GeneratorExp():
                self._comprehension(node)
                wrap = False
            case ast.Attribute():
                if self._module_chain(node):
                    return node
                node.value = self.expr(node.value)
                wrap = not callee
            case ast.Call():
                node.func = self.expr(node.func, callee=True)
                node.args = [self.expr(arg) for arg in node.args]
                for keyword in node.keywords:
                    keyword.value = self.expr(keyword.value)
                if self.follow_calls:
                    node = self._through_call(node)
            case ast.BinOp():
                node.left, node.right = self.expr(node.left), self.expr(node.right)
            case ast.UnaryOp():
                node.operand = self.expr(node.operand)
            case ast.Subscript():
                node.value, node.slice = self.expr(node.value), self.expr(node.slice, callee=True)
            case ast.Slice():
                for field in ("lower", "upper", "step"):
                    if getattr(node, field) is not None:
                        setattr(node, field, self.expr(getattr(node, field)))
                wrap = False
            case ast.Tuple() | ast.List():
                node.elts = [self.expr(element) for element in node.elts]
                wrap = False
            case ast.Starred():
                node.value = self.expr(node.value)
                wrap = False
            case ast.Compare():
                node.left = self.expr(node.left)
                node.comparators = [self.expr(item) for item in node.comparators]
            case ast.BoolOp():
                node.values = [self.expr(value) for value in node.values]
            case ast.IfExp():
                node.test, node.body = self.expr(node.test), self.expr(node.body)
                node.orelse = self.expr(node.orelse)
            case ast.NamedExpr():
                node.value = self.expr(node.value)
            case _:
                wrap = False
        if not wrap or callee:
            return node
        return self._wrap(node, first_slot)

    def _comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
    ) -> None:
        """Rewrite in evaluation order: the first iterable (once), then per item the
        conditions, inner iterables and the element, whose slots are marked as repeating."""
        for index, generator in enumerate(node.generators):
            if index:
                self.repeating += 1
            generator.iter = self.expr(generator.iter)
            if not index:
                self.repeating += 1
            generator.ifs = [self.expr(condition) for condition in generator.ifs]
        if isinstance(node, ast.DictComp):
            node.key, node.value = self.expr(node.key), self.expr(node.value)
        else:
            node.elt = self.expr(node.elt)
        self.repeating -= len(node.generators)

    def _module_chain(self, node: ast.expr) -> bool:
        """``torch.nn.functional``: a dotted name starting at a module imported in the file."""
        while isinstance(node, ast.Attribute):
            node = node.value
        return isinstance(node, ast.Name) and node.id in self.modules

    def _wrap(self, node: ast.expr, first_slot: int) -> ast.expr:
        assert self.statement is not None
        slot = len(self.sites)
        inner = {operand for site in self.sites[first_slot:] for operand in site.operands}
        operands = tuple(site.slot for site in self.sites[first_slot:] if site.slot not in inner)
        site = SubExpression(
            slot, self.statement, Span.of(node), self._source(node), operands, self.repeating > 0
        )
        self.sites.append(site)
        wrapped = ast.Call(ast.Name(RECORD, ast.Load()), [ast.Constant(slot), node], [])
        return ast.copy_location(wrapped, node)

    def _through_call(self, node: ast.Call) -> ast.Call:
        routed = ast.Call(ast.Name(CALL, ast.Load()), [node.func, *node.args], node.keywords)
        return ast.copy_location(routed, node)

    def _source(self, node: ast.AST) -> str:
        segment = ast.get_source_segment("".join(self.lines), node) or ast.unparse(node)
        return " ".join(part.strip() for part in segment.splitlines())


def instrument_block(
    body: list[ast.stmt],
    filename: str,
    lines: Sequence[str],
    function: str,
    namespace: Mapping[str, Any],
    *,
    follow_calls: bool = False,
) -> Unit:
    """Rewrite ``body`` (statements parsed from ``lines``) in place and describe what it records.

    ``namespace`` (the code's globals) tells which names are modules, whose attributes are never
    arrays and need no recording.
    """
    rewriter = _Rewriter(filename, lines, function, namespace, follow_calls)
    new_body = rewriter.body(body)
    for node in new_body:
        ast.fix_missing_locations(node)
    return Unit(new_body, tuple(rewriter.statements), tuple(rewriter.sites))

"""Source spans: what Python 3.11 records for every bytecode instruction, and the one lookup
from a span to the syntax-tree node it covers.

A traceback's ``tb_lasti`` names the instruction that raised; :func:`instruction_span` gives its
span, :func:`node_at` the innermost expression exactly covering it and the statement around it.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from types import CodeType
from typing import Any


@dataclass(frozen=True)
class Span:
    """A source span: 1-based lines, 0-based columns (``ast`` conventions), end exclusive.

    >>> Span.of(ast.parse("x + y").body[0].value)
    Span(line=1, col=0, end_line=1, end_col=5)
    """

    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def of(cls, node: ast.AST) -> Span:
        """The span of a node that has positions (expressions, statements)."""
        found = cls.maybe(node)
        if found is None:
            raise ValueError(f"{type(node).__name__} node has no source position")
        return found

    @classmethod
    def maybe(cls, node: ast.AST) -> Span | None:
        """The span of ``node``, or None when it lacks a position."""
        parts = (
            getattr(node, name, None)
            for name in ("lineno", "col_offset", "end_lineno", "end_col_offset")
        )
        line, col, end_line, end_col = parts
        if line is None or col is None or end_line is None or end_col is None:
            return None
        return cls(line, col, end_line, end_col)

    def contains(self, other: Span) -> bool:
        """Whether ``other`` lies inside this span (bounds included)."""
        return (self.line, self.col) <= (other.line, other.col) and (
            other.end_line,
            other.end_col,
        ) <= (self.end_line, self.end_col)


def instruction_spans(code: CodeType) -> list[Span | None]:
    """The span of every instruction of ``code``, indexed by instruction (``offset // 2``)."""
    spans: list[Span | None] = []
    for line, end_line, col, end_col in code.co_positions():
        complete = line is not None and end_line is not None and col is not None
        spans.append(
            Span(line, col, end_line, end_col)  # type: ignore[arg-type]
            if complete and end_col is not None
            else None
        )
    return spans


def instruction_span(code: CodeType, offset: int) -> Span | None:
    """The span of the instruction at bytecode ``offset`` (``tb_lasti``, ``f_lasti``)."""
    spans = instruction_spans(code)
    index = offset // 2
    return spans[index] if 0 <= index < len(spans) else None


Failing = ast.expr | ast.AugAssign
"""What can fail: an expression, or an augmented assignment (``a += b`` has no expression of
its own for the operation)."""


def node_at(
    tree: ast.AST, span: Span, kinds: tuple[type[ast.AST], ...] = (ast.expr, ast.AugAssign)
) -> tuple[Failing, ast.stmt] | None:
    """The innermost node of one of ``kinds`` (by default: an expression, or a ``+=``
    statement) exactly covering ``span``, and its innermost enclosing statement.

    >>> node, statement = node_at(ast.parse("y = a @ b"), Span(1, 4, 1, 9))
    >>> ast.unparse(node), type(statement).__name__
    ('a @ b', 'Assign')
    """
    found: tuple[Any, ast.stmt] | None = None
    pending: list[tuple[ast.AST, ast.stmt | None]] = [(tree, None)]
    while pending:
        node, statement = pending.pop()
        if isinstance(node, ast.stmt):
            statement = node
        if Span.maybe(node) == span and statement is not None and isinstance(node, kinds):
            found = (node, statement)  # deeper matches come later and win
        for child in reversed(list(ast.iter_child_nodes(node))):
            child_span = Span.maybe(child)
            if child_span is None or child_span.line <= span.line <= child_span.end_line:
                pending.append((child, statement))
    return found


def statement_at(tree: ast.AST, span: Span, kind: type[ast.stmt]) -> ast.stmt | None:
    """The statement of type ``kind`` whose span is exactly ``span`` (a ``with`` statement)."""
    found = node_at(tree, span, (kind,))
    return found[1] if found is not None else None

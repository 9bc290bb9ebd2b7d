"""Find the user's failing sub-expression from a traceback, without running anything again.

Python 3.11 records a source span for every bytecode instruction (what draws ``^^^^`` under
tracebacks). The traceback's ``tb_lasti`` names the instruction that raised; its span is matched
against the file's syntax tree to recover the exact expression node and its enclosing statement.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import FrameType, TracebackType

from tensorsight.debugger.frames.code import is_library_frame
from tensorsight.debugger.frames.source import function_lines, parse, source_lines
from tensorsight.debugger.frames.spans import Failing, instruction_span, node_at

_COMMENT = re.compile(r"\s+#[^'\"]*$")  # a trailing comment without quotes in it
_OPEN_GAP = re.compile(r"([(\[{]) +")
_CLOSE_GAP = re.compile(r" +([)\]}])")
_NESTED = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>", "<lambda>"})


def one_line(lines: Sequence[str]) -> str:
    """Source lines joined onto one line, without the gaps inside brackets.

    >>> one_line(["f(", "    a,", "    b)"])
    'f(a, b)'
    """
    joined = " ".join(part.strip() for part in lines if part.strip())
    return _CLOSE_GAP.sub(r"\1", _OPEN_GAP.sub(r"\1", joined))


@dataclass(frozen=True)
class Site:
    """The failing expression in the user's code.

    ``node`` is the expression whose bytecode raised, ``statement`` the whole statement around it,
    ``library_frames`` the frames it called on the way to the exception.
    """

    frame: FrameType
    filename: str
    node: Failing
    statement: ast.stmt
    source_lines: tuple[str, ...]
    library_frames: tuple[FrameType, ...]

    @property
    def line(self) -> int:
        """Line number of the failing expression's first line."""
        return self.node.lineno

    def statement_text(self, limit: int = 120) -> str:
        """The enclosing statement on one line; only the header of a compound statement."""
        statement = self.statement
        body = getattr(statement, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            span = list(self.source_lines[statement.lineno - 1 : body[0].lineno])
            span[-1] = span[-1].encode()[: body[0].col_offset].decode(errors="ignore")
            span[0] = span[0].encode()[statement.col_offset :].decode(errors="ignore")
            text = one_line(span)
        else:
            text = self.text(statement)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def worth_showing_statement(self) -> bool:
        """Whether the note should quote the statement: it spans lines, or the failure is in a
        comprehension or lambda (where the expression alone does not say which statement)."""
        statement = self.statement
        multi_line = (statement.end_lineno or statement.lineno) > statement.lineno
        return multi_line or self.frame.f_code.co_name in _NESTED

    def text(self, node: ast.AST) -> str:
        """The source text of ``node``, multi-line expressions joined onto one line."""
        lines = _segment_lines(self.source_lines, node) or ast.unparse(node).splitlines()
        if len(lines) > 1:  # comments inside a multi-line expression would end the joined line
            lines = [_COMMENT.sub("", line) for line in lines]
        return one_line(lines)


def _segment_lines(source: Sequence[str], node: ast.AST) -> list[str]:
    """The source lines of ``node``, cut at its columns (UTF-8 byte offsets, as ast counts)."""
    first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if first is None or last is None or start is None or end is None or last > len(source):
        return []
    lines = [line.encode() for line in source[first - 1 : last]]
    lines[-1] = lines[-1][:end]
    lines[0] = lines[0][start:]
    return [line.decode(errors="replace").rstrip("\r\n") for line in lines]


def _entries(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def innermost_user_entry(tb: TracebackType | None) -> tuple[TracebackType, list[FrameType]] | None:
    """The deepest traceback entry in user code, and the library frames called below it."""
    entries = list(_entries(tb))
    for index in range(len(entries) - 1, -1, -1):
        if not is_library_frame(entries[index].tb_frame):
            below = [entry.tb_frame for entry in entries[index + 1 :]]
            return entries[index], below
    return None


def locate(tb: TracebackType | None) -> Site | None:
    """The :class:`Site` of the deepest user-code frame of ``tb``, or None if it has no source.

    >>> try:
    ...     [1, 2][5]
    ... except IndexError as error:
    ...     site = locate(error.__traceback__)  # doctest: +SKIP
    """
    user = innermost_user_entry(tb)
    if user is None:
        return None
    entry, below = user
    return site_at(entry.tb_frame, entry.tb_lasti, below)


def site_at(frame: FrameType, lasti: int, below: Sequence[FrameType] = ()) -> Site | None:
    """The :class:`Site` of the instruction ``lasti`` of ``frame``, if its source is readable.

    ``below`` are the frames it called on the way to the exception.
    """
    span = instruction_span(frame.f_code, lasti)
    filename = frame.f_code.co_filename
    lines = source_lines(filename, frame.f_globals)
    if span is None or not lines:
        return None
    tree = parse(filename, *function_lines(frame.f_code, lines))
    if tree is None:  # the function's lines alone do not parse: take the whole file
        tree = parse(filename, lines)
    match = node_at(tree, span) if tree is not None else None
    if match is None:
        return None
    node, statement = match
    return Site(frame, filename, node, statement, tuple(lines), tuple(below))

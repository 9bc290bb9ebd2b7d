"""Find the user's failing sub-expression from a traceback, without running anything again.

Python 3.11 records a source span for every bytecode instruction (what draws ``^^^^`` under
tracebacks). The traceback's ``tb_lasti`` names the instruction that raised; its span is matched
against the file's syntax tree to recover the exact expression node and its enclosing statement.
"""

from __future__ import annotations

import ast
import builtins
import linecache
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from types import CodeType, FrameType, TracebackType
from typing import Any

# Top-level packages whose frames are "library internals", never the user's own code.
LIBRARY_PACKAGES = frozenset(
    {
        "numpy",
        "torch",
        "jax",
        "jaxlib",
        "opt_einsum",
        "contextlib",
        "functools",
        "IPython",
        "tensorsight",
        "importlib",
        "runpy",
        "threading",
    }
)


_COMMENT = re.compile(r"\s+#[^'\"]*$")  # a trailing comment without quotes in it
_OPEN_GAP = re.compile(r"([(\[{]) +")
_CLOSE_GAP = re.compile(r" +([)\]}])")


@dataclass(frozen=True)
class Site:
    """The failing expression in the user's code.

    ``node`` is the expression whose bytecode raised, ``statement`` the whole statement around it.
    """

    frame: FrameType
    filename: str
    node: ast.expr | ast.AugAssign
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
            header = " ".join(part.strip() for part in span if part.strip())
            text = _CLOSE_GAP.sub(r"\1", _OPEN_GAP.sub(r"\1", header))
        else:
            text = self.text(statement)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def text(self, node: ast.AST) -> str:
        """The source text of ``node``, multi-line expressions joined onto one line."""
        lines = _segment_lines(self.source_lines, node) or ast.unparse(node).splitlines()
        if len(lines) > 1:  # comments inside a multi-line expression would end the joined line
            lines = [_COMMENT.sub("", line) for line in lines]
        joined = " ".join(part.strip() for part in lines if part.strip())
        return _CLOSE_GAP.sub(r"\1", _OPEN_GAP.sub(r"\1", joined))


def _segment_lines(source_lines: Sequence[str], node: ast.AST) -> list[str]:
    """The source lines of ``node``, cut at its columns (UTF-8 byte offsets, as ast counts)."""
    first, last = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
    start, end = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
    if first is None or last is None or start is None or end is None or last > len(source_lines):
        return []
    lines = [line.encode() for line in source_lines[first - 1 : last]]
    lines[-1] = lines[-1][:end]
    lines[0] = lines[0][start:]
    return [line.decode(errors="replace").rstrip("\r\n") for line in lines]


def is_library_frame(frame: FrameType) -> bool:
    """True for frames of NumPy/PyTorch/JAX/standard helpers; user code is everything else."""
    module = frame.f_globals.get("__name__") or ""
    return module.partition(".")[0] in LIBRARY_PACKAGES


def _frames(tb: TracebackType | None) -> Iterator[TracebackType]:
    while tb is not None:
        yield tb
        tb = tb.tb_next


def innermost_user_entry(tb: TracebackType | None) -> tuple[TracebackType, list[FrameType]] | None:
    """The deepest traceback entry in user code, and the library frames called below it."""
    entries = list(_frames(tb))
    for index in range(len(entries) - 1, -1, -1):
        if not is_library_frame(entries[index].tb_frame):
            below = [entry.tb_frame for entry in entries[index + 1 :]]
            return entries[index], below
    return None


def _instruction_span(code: CodeType, lasti: int) -> tuple[int, int, int, int] | None:
    for position_index, position in enumerate(code.co_positions()):
        if position_index == lasti // 2:
            return None if None in position else position  # type: ignore[return-value]
    return None


_TREES: dict[tuple[str, int, int], ast.Module] = {}


def _parse(filename: str, lines: Sequence[str], first_line: int = 1) -> ast.Module | None:
    """The syntax tree of ``lines`` (which start at line ``first_line`` of the file), cached.

    A part of a file is parsed inside ``if True:`` so that an indented method parses as is;
    line numbers are then shifted to the file's, columns are untouched.
    """
    key = (filename, first_line, hash(tuple(lines)))
    tree = _TREES.get(key)
    if tree is None:
        try:
            if first_line == 1:
                tree = ast.parse("".join(lines), filename)
            else:
                tree = ast.parse("if True:\n" + "".join(lines), filename)
                ast.increment_lineno(tree, first_line - 2)
        except (SyntaxError, ValueError):
            return None
        if len(_TREES) > 64:
            _TREES.clear()
        _TREES[key] = tree
    return tree


def _function_lines(code: CodeType, lines: list[str]) -> tuple[list[str], int]:
    """Only the lines of a named function (decorators included), else the whole file.

    Parsing a 3,000-line library module to explain one line inside it costs tens of ms.
    Lambdas and comprehensions may start mid-statement, so they get the whole file.
    """
    if code.co_name.startswith("<") or code.co_firstlineno <= 1:
        return lines, 1
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=0)
    if last < code.co_firstlineno:
        return lines, 1
    return lines[code.co_firstlineno - 1 : last], code.co_firstlineno


def _span(node: ast.AST) -> tuple[int | None, int | None, int | None, int | None]:
    return (
        getattr(node, "lineno", None),
        getattr(node, "end_lineno", None),
        getattr(node, "col_offset", None),
        getattr(node, "end_col_offset", None),
    )


def _find(
    tree: ast.Module, span: tuple[int, int, int, int]
) -> tuple[ast.expr | ast.AugAssign, ast.stmt] | None:
    """The innermost expression exactly covering ``span`` and its innermost enclosing statement.

    An augmented assignment (``a += b``) is its own failing "expression".
    """
    found: tuple[ast.expr | ast.AugAssign, ast.stmt] | None = None

    def visit(node: ast.AST, statement: ast.stmt | None) -> None:
        nonlocal found
        if isinstance(node, ast.stmt):
            statement = node
            if isinstance(node, ast.AugAssign) and _span(node) == span:
                found = (node, node)
        elif isinstance(node, ast.expr) and statement is not None and _span(node) == span:
            found = (node, statement)
        for child in ast.iter_child_nodes(node):
            lineno, end_lineno = getattr(child, "lineno", None), getattr(child, "end_lineno", None)
            if lineno is None or end_lineno is None or lineno <= span[0] <= end_lineno:
                visit(child, statement)

    visit(tree, None)
    return found


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
    span = _instruction_span(frame.f_code, lasti)
    filename = frame.f_code.co_filename
    lines = linecache.getlines(filename, frame.f_globals)
    if span is None or not lines:
        return None
    tree = _parse(filename, *_function_lines(frame.f_code, lines))
    if tree is None:  # the function's lines alone do not parse: take the whole file
        tree = _parse(filename, lines)
    match = _find(tree, span) if tree is not None else None
    if match is None:
        return None
    node, statement = match
    return Site(frame, filename, node, statement, tuple(lines), tuple(below))


class Unreadable(Exception):
    """An operand that cannot be read from the frame without calling code."""


def read(node: ast.expr, frame: FrameType) -> Any:
    """The value of a name, attribute, subscript or constant operand, read from ``frame``.

    Calls, operators and anything else that would run user code again raise :class:`Unreadable`.

    >>> import sys
    >>> read(ast.parse("sys.version_info[0]", mode="eval").body, sys._getframe())
    3
    """
    match node:
        case ast.Constant(value=value):
            return value
        case ast.Name(id=name):
            for scope in (frame.f_locals, frame.f_globals, vars(builtins)):
                if name in scope:
                    return scope[name]
            raise Unreadable(name)
        case ast.Attribute(value=owner, attr=attr):
            try:
                return getattr(read(owner, frame), attr)
            except AttributeError as error:
                raise Unreadable(attr) from error
        case ast.Subscript(value=container, slice=index):
            try:
                return read(container, frame)[read(index, frame)]
            except (IndexError, KeyError, TypeError, ValueError, RuntimeError) as error:
                raise Unreadable("subscript") from error
        case ast.Slice(lower=lower, upper=upper, step=step):
            parts = (lower, upper, step)
            return slice(*(None if part is None else read(part, frame) for part in parts))
        case ast.Tuple(elts=items):
            return tuple(read(item, frame) for item in items)
        case ast.List(elts=items):
            return [read(item, frame) for item in items]
        case ast.UnaryOp(op=ast.USub(), operand=ast.Constant(value=int() | float() as number)):
            return -number
        case _:
            raise Unreadable(type(node).__name__)


def called_name(func: ast.expr) -> str:
    """Dotted name of a called function: ``np.dot``, ``torch.cat``, ``x.view``, ``self.fc``.

    >>> called_name(ast.parse("self.fc(x)").body[0].value.func)
    'self.fc'
    """
    match func:
        case ast.Name(id=name):
            return name
        case ast.Attribute(value=owner, attr=attr):
            return f"{called_name(owner)}.{attr}"
        case _:
            return "(...)"


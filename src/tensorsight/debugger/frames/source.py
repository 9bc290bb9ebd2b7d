"""The one source cache: a file's lines (through :mod:`linecache`, so notebook cells work) and
the syntax trees parsed from them, bounded.

A tree is cached per (file, first line, text): a whole file, or only one function's lines when
``clarify()`` explains a line inside a 3,000-line library module (parsing all of it costs tens of
milliseconds). Trees are shared: callers that rewrite nodes deep-copy them first.
"""

from __future__ import annotations

import ast
import linecache
from collections.abc import Mapping, Sequence
from types import CodeType
from typing import Any

from tensorsight.debugger.bounded import BoundedCache

_TREES: BoundedCache[tuple[str, int, int], ast.Module | None] = BoundedCache(64)


class SourceUnavailable(Exception):
    """The source of some code cannot be found or parsed (interactive prompt, ``exec``...)."""


def source_lines(filename: str, module_globals: Mapping[str, Any] | None = None) -> list[str]:
    """The lines of ``filename`` as :mod:`linecache` has them (``[]`` when it has none)."""
    return linecache.getlines(filename, dict(module_globals) if module_globals else None)


def parse(filename: str, lines: Sequence[str], first_line: int = 1) -> ast.Module | None:
    """The syntax tree of ``lines`` (which start at line ``first_line`` of the file), cached;
    None when they do not parse.

    A part of a file is parsed inside ``if True:`` so that an indented method parses as is;
    line numbers are then shifted to the file's, columns are untouched.

    >>> parse("<doc>", ["    y = x\\n"], first_line=7).body[0].body[0].lineno
    7
    """
    key = (filename, first_line, hash(tuple(lines)))
    try:  # None is cached too: lines that do not parse
        return _TREES[key]
    except KeyError:
        pass
    tree: ast.Module | None
    try:
        if first_line == 1:
            tree = ast.parse("".join(lines), filename)
        else:
            tree = ast.parse("if True:\n" + "".join(lines), filename)
            ast.increment_lineno(tree, first_line - 2)
    except (SyntaxError, ValueError):
        tree = None
    _TREES[key] = tree
    return tree


def file_tree(
    filename: str, module_globals: Mapping[str, Any] | None = None
) -> tuple[list[str], ast.Module]:
    """The lines of ``filename`` and the syntax tree of the whole file.

    Raises :class:`SourceUnavailable` when there is no source or it does not parse.
    """
    lines = source_lines(filename, module_globals)
    if not lines:
        raise SourceUnavailable(f"no source for {filename}")
    tree = parse(filename, lines)
    if tree is None:
        raise SourceUnavailable(f"{filename} does not parse")
    return lines, tree


def function_lines(code: CodeType, lines: list[str]) -> tuple[list[str], int]:
    """Only the lines of a named function (decorators included), else the whole file, and the
    line the returned lines start at. Lambdas and comprehensions may start mid-statement, so
    they get the whole file."""
    if code.co_name.startswith("<") or code.co_firstlineno <= 1:
        return lines, 1
    last = max((end for _, end, _, _ in code.co_positions() if end is not None), default=0)
    if last < code.co_firstlineno:
        return lines, 1
    return lines[code.co_firstlineno - 1 : last], code.co_firstlineno

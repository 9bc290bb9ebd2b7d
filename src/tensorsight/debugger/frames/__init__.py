"""Frames: user code versus library code, source spans, the source cache, reading live values.

Everything the debugger knows about running code comes from here, answered one way each:
:func:`is_library` (whose code), :mod:`source` (the one bounded source and tree cache),
:func:`node_at` (the one span lookup), :func:`read` (values without running anything).
"""

from tensorsight.debugger.frames.code import (
    array_library,
    is_library,
    is_library_frame,
    is_user_function,
    library_callable,
    package_of,
)
from tensorsight.debugger.frames.site import Site, locate, one_line, site_at
from tensorsight.debugger.frames.source import (
    SourceUnavailable,
    file_tree,
    function_lines,
    parse,
    source_lines,
)
from tensorsight.debugger.frames.spans import (
    Failing,
    Span,
    instruction_span,
    instruction_spans,
    node_at,
    statement_at,
)
from tensorsight.debugger.frames.values import Unreadable, called_name, read

__all__ = [
    "Failing",
    "Site",
    "SourceUnavailable",
    "Span",
    "Unreadable",
    "array_library",
    "called_name",
    "file_tree",
    "function_lines",
    "instruction_span",
    "instruction_spans",
    "is_library",
    "is_library_frame",
    "is_user_function",
    "library_callable",
    "locate",
    "node_at",
    "one_line",
    "package_of",
    "parse",
    "read",
    "site_at",
    "source_lines",
    "statement_at",
]

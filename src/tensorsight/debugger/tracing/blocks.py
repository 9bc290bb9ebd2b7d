"""The instrumented twin of a ``with explain():`` body, and how it runs instead of the body.

CPython cannot swap the code of a running frame, so ``__enter__`` installs a trace function on
the caller's frame for the few instructions between ``__enter__`` and the block's first
instruction. There it runs the instrumented block with the frame's variables, copies the
variables it bound back into the frame, and raises :class:`SkipBlock`, which ``__exit__``
swallows, so the original block is skipped. Tracing is off again before the block runs.
"""

from __future__ import annotations

import ast
import copy
import functools
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tensorsight.debugger.bounded import BoundedCache
from tensorsight.debugger.frames import (
    SourceUnavailable,
    Span,
    file_tree,
    instruction_spans,
    statement_at,
)
from tensorsight.debugger.tracing.rewrite import CALL, OUT, RECORD, instrument_block
from tensorsight.debugger.tracing.twins import call

_HELPERS = (RECORD, CALL, OUT)


class SkipBlock(Exception):
    """Raised on the first instruction of a ``with explain():`` block once its twin has run."""


def _trace_nothing(frame: types.FrameType, event: str, arg: Any) -> None:
    """The global trace function while waiting for a block: follow no new frame."""
    return None


@dataclass(frozen=True)
class Tracing:
    """The trace settings found on entering a block, put back once it starts and on exit."""

    frame: types.FrameType
    global_trace: Any
    frame_trace: Any
    opcodes: bool

    @classmethod
    def of(cls, frame: types.FrameType) -> Tracing:
        """The settings in force for ``frame`` now."""
        return cls(frame, sys.gettrace(), frame.f_trace, frame.f_trace_opcodes)

    def restore(self) -> None:
        """Put the settings back."""
        sys.settrace(self.global_trace)
        self.frame.f_trace = self.frame_trace
        self.frame.f_trace_opcodes = self.opcodes

    def run_instead(self, block: Block) -> None:
        """Arrange for ``block``'s twin to run, and the original to be skipped, when the frame
        reaches the block's first instruction."""
        if not block.body_offsets:
            return
        self.frame.f_trace_opcodes = True
        self.frame.f_trace = functools.partial(_enter_block, self, block)
        sys.settrace(_trace_nothing)


def _enter_block(
    tracing: Tracing, block: Block, frame: types.FrameType, event: str, arg: Any
) -> Any:
    """Trace function of the ``with`` frame: on the block's first instruction, run its twin
    (with tracing already restored), then skip the original block."""
    if event != "opcode" or frame.f_lasti not in block.body_offsets:
        return frame.f_trace
    tracing.restore()
    block.run(frame)
    raise SkipBlock


@dataclass
class Block:
    """A ``with`` body's instrumented twin for one frame kind, and where the original starts."""

    with_node: ast.With
    unit_body: list[ast.stmt]
    filename: str
    function: str
    body_offsets: frozenset[int]
    module_level: bool
    bound: frozenset[str]
    referenced: frozenset[str]
    record: Callable[[int, Any], Any]
    compiled: dict[tuple[str, ...], types.CodeType] = field(default_factory=dict)

    def run(self, frame: types.FrameType) -> None:
        """Run the twin with ``frame``'s variables; bind what it bound back in ``frame``."""
        helpers = (self.record, call)
        if self.module_level:
            code = self._code(())
            function = types.FunctionType(code, frame.f_globals)
            function(*helpers, None)
            return
        local_names = frame.f_locals  # filled from the fast locals by the tracing machinery
        params = tuple(sorted(name for name in self.referenced if name in local_names))
        out: dict[str, Any] = {}
        function = types.FunctionType(self._code(params), frame.f_globals)
        try:
            function(*helpers, out, *(local_names[name] for name in params))
        finally:
            # Read f_locals only now: the read refreshes the dict from the frame, then our writes
            # win and are copied back to the frame when the trace function returns.
            local_names = frame.f_locals
            for name in params:
                if name not in out:
                    local_names.pop(name, None)
            for name, value in out.items():
                if name not in _HELPERS:
                    local_names[name] = value

    def _code(self, params: tuple[str, ...]) -> types.CodeType:
        code = self.compiled.get(params)
        if code is None:
            code = self.compiled[params] = self._compile(params)
        return code

    def _compile(self, params: tuple[str, ...]) -> types.CodeType:
        body = list(self.unit_body)
        if self.module_level:
            if self.bound:
                body.insert(0, ast.Global(sorted(self.bound)))
        else:
            export = ast.Expr(
                ast.Call(
                    ast.Attribute(ast.Name(OUT, ast.Load()), "update", ast.Load()),
                    [ast.Call(ast.Name("locals", ast.Load()), [], [])],
                    [],
                )
            )
            body = [ast.Try(body, [], [], [export])]
        arguments = [ast.arg(name) for name in (*_HELPERS, *params)]
        definition = ast.FunctionDef(
            self.function, ast.arguments([], arguments, None, [], [], None, []), body, [], None
        )
        ast.copy_location(definition, self.with_node)
        module = ast.Module([definition], [])
        ast.fix_missing_locations(module)
        compiled = compile(module, self.filename, "exec")
        return next(c for c in compiled.co_consts if isinstance(c, types.CodeType))


# (code, offset of the `with`, follow calls) -> the block's twin (None: no source)
_BLOCKS: BoundedCache[tuple[types.CodeType, int, bool], Block | None] = BoundedCache(256)


def block_for(frame: types.FrameType, calls: bool) -> Block | None:
    """The cached instrumented twin of the ``with`` body that ``frame`` is entering."""
    key = (frame.f_code, frame.f_lasti, calls)
    try:  # None is cached too: a block without source
        return _BLOCKS[key]
    except KeyError:
        block = _BLOCKS[key] = _make_block(frame, calls)
        return block


def _make_block(frame: types.FrameType, calls: bool) -> Block | None:
    code = frame.f_code
    spans = instruction_spans(code)
    with_span = spans[frame.f_lasti // 2]
    try:
        lines, tree = file_tree(code.co_filename, frame.f_globals)
    except SourceUnavailable:
        return None
    with_node = statement_at(tree, with_span, ast.With) if with_span is not None else None
    if not isinstance(with_node, ast.With):
        return None
    _reject_jumps(with_node)
    body = copy.deepcopy(with_node.body)
    unit = instrument_block(
        body, code.co_filename, lines, code.co_name, frame.f_globals, follow_calls=calls
    )
    body_span = Span(
        with_node.body[0].lineno,
        with_node.body[0].col_offset,
        with_node.body[-1].end_lineno or 0,
        with_node.body[-1].end_col_offset or 0,
    )
    offsets = frozenset(
        2 * index
        for index, span in enumerate(spans)
        if span is not None and body_span.contains(span)
    )
    module_level = frame.f_locals is frame.f_globals
    name = code.co_name if code.co_name.isidentifier() else "explained_block"
    return Block(
        with_node,
        unit.body,
        code.co_filename,
        name,
        offsets,
        module_level,
        frozenset(_bound_names(with_node.body)),
        frozenset(
            node.id
            for node in ast.walk(ast.Module(with_node.body, []))
            if isinstance(node, ast.Name)
        ),
        unit.recorder(),
    )


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _bound_names(body: list[ast.stmt]) -> Iterator[str]:
    """Names the statements bind in their own scope (not inside nested functions/classes)."""
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        match node:
            case ast.Name(ctx=ast.Store() | ast.Del()):
                yield node.id
            case ast.FunctionDef() | ast.AsyncFunctionDef() | ast.ClassDef():
                yield node.name
            case ast.Import() | ast.ImportFrom():
                for alias in node.names:
                    yield alias.asname or alias.name.partition(".")[0]
            case ast.ExceptHandler(name=str() as name):
                yield name
        if not isinstance(node, _SCOPES):
            pending.extend(ast.iter_child_nodes(node))


def _reject_jumps(with_node: ast.With) -> None:
    """A ``with explain():`` body runs as a function: it cannot return, yield or break out."""
    pending: list[ast.AST] = list(with_node.body)
    loops = (ast.For, ast.AsyncFor, ast.While)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Return | ast.Yield | ast.YieldFrom | ast.Await):
            word = type(node).__name__.lower().replace("yieldfrom", "yield from")
            raise SyntaxError(
                f"explain(): a `with explain():` block cannot contain `{word}` "
                f"(line {node.lineno}); decorate the function with @explain instead"
            )
        if isinstance(node, ast.Nonlocal):
            raise SyntaxError(
                f"explain(): `nonlocal` at line {node.lineno} cannot be used in a "
                "`with explain():` block; decorate the function with @explain"
            )
        if isinstance(node, ast.Break | ast.Continue):
            raise SyntaxError(
                f"explain(): `{type(node).__name__.lower()}` at line {node.lineno}"
                " leaves the `with explain():` block; put the loop inside it"
            )
        if not isinstance(node, _SCOPES + loops):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, loops):
            pending.extend(
                child for child in ast.iter_child_nodes(node) if not isinstance(child, ast.stmt)
            )
            pending.extend(_no_loop_jumps(node))


def _no_loop_jumps(loop: ast.For | ast.AsyncFor | ast.While) -> Iterator[ast.AST]:
    """Statements inside a loop where return/yield still matter but break/continue do not."""
    for node in ast.walk(ast.Module([*loop.body, *loop.orelse], [])):
        if isinstance(node, ast.Return | ast.Yield | ast.YieldFrom | ast.Await):
            yield node

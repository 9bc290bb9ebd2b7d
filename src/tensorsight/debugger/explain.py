"""``explain()``: show every executed tensor statement with the shape of each sub-expression.

How it observes shapes (no sub-expression is ever evaluated twice):

* The block's (or decorated function's) source is parsed once and every sub-expression ``e`` is
  rewritten into ``__ts_record__(slot, e)``, which reads ``e``'s shape and dtype and returns ``e``
  unchanged (:mod:`tensorsight.debugger.instrument`). The rewritten code is compiled once per
  site and cached; it is what runs, once, instead of the original.
* Decorator: the function's twin is compiled with the same globals and closure cells.
* ``with explain():``: CPython cannot swap the code of a running frame, so ``__enter__`` installs
  a trace function on the caller's frame for the few instructions between ``__enter__`` and the
  block's first instruction. There it runs the instrumented block with the frame's variables,
  copies the variables it bound back into the frame, and raises an exception that ``__exit__``
  swallows, so the original block is skipped. Tracing is off again before the block runs.

>>> import numpy as np, io
>>> x, W = np.ones((2, 3)), np.ones((3, 4))
>>> with explain(file=io.StringIO()) as shapes:
...     y = x @ W
>>> shapes.statements[0].operands[-1].shape
(2, 4)
"""

from __future__ import annotations

import ast
import copy
import dis
import functools
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, overload

from tensorsight.debugger import instrument
from tensorsight.debugger.instrument import SUBEXPRESSIONS, Span, Statement
from tensorsight.debugger.tensors import TensorInfo, describe

F = TypeVar("F", bound=Callable[..., Any])
_BEFORE_WITH = dis.opmap["BEFORE_WITH"]
_HELPERS = (instrument.RECORD, instrument.CALL, instrument.OUT)


@dataclass(frozen=True)
class Operand:
    """One observed sub-expression: its source text and span, shape, dtype and library.

    ``show_dtype`` is true where the dtype changes (it differs from one of its operands', or the
    statement's leaves disagree), which is when the label shows it.
    """

    source: str
    span: Span
    shape: tuple[int, ...]
    dtype: str
    framework: str
    show_dtype: bool = False

    def label(self) -> str:
        """``32x64`` or ``32x64 int64`` where the dtype changes."""
        shape = "x".join(map(str, self.shape)) if self.shape else "scalar"
        return f"{shape} {self.dtype}" if self.show_dtype else shape


@dataclass
class StatementShapes:
    """One statement with one shape signature, and how many times it ran with it.

    ``operands`` are in evaluation order; the last one is the statement's outermost expression.
    """

    statement: Statement
    operands: tuple[Operand, ...]
    roots: tuple[int, ...]
    leaves: tuple[int, ...]
    count: int = 1
    started: int = 0  # when its first run began, among the runs of its explanation

    @property
    def filename(self) -> str:
        return self.statement.filename

    @property
    def line(self) -> int:
        return self.statement.span.line

    @property
    def source(self) -> str:
        """The statement's source text (a compound statement's header), dedented."""
        return "\n".join(self.statement.lines)

    def text(self, width: int = 80) -> str:
        """The statement with a label under each sub-expression, as plain text."""
        from tensorsight.debugger.explain_render import statement_text

        return statement_text(self, width)

    def svg(self) -> str:
        """The statement drawn as SVG, like the text but with boxes."""
        from tensorsight.debugger.explain_render import statement_svg

        return statement_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from tensorsight.debugger.explain_render import statement_rich

        yield statement_rich(self, options.max_width)


@dataclass
class _Execution:
    """The values seen so far in one execution of one statement."""

    values: list[tuple[int, TensorInfo]] = field(default_factory=list)
    last_slot: int = -1
    repeated: set[int] = field(default_factory=set)  # comprehension slots already recorded
    started: int = 0


class _SkipBlock(Exception):
    """Raised on the first instruction of a ``with explain():`` block once its twin has run."""


class Explanation(instrument.Observer):
    """The shapes seen by one ``explain()``: a context manager, a decorator, and the records.

    ``statements`` lists each statement once per distinct shape signature, in first-run order.
    """

    def __init__(self, *, file: IO[str] | None = None, calls: bool = False, show: bool = True):
        self.file = file
        self.calls = calls
        self.show = show
        self.statements: list[StatementShapes] = []
        self._seen: dict[tuple[Statement, tuple[tuple[int, TensorInfo], ...]], StatementShapes] = {}
        self._open: dict[Statement, _Execution] = {}
        self._previous: list[instrument.Observer | None] = []  # a stack: calls may recurse
        self._output: Any = None
        self._shown = 0
        self._runs = 0
        self._tracing: list[_Tracing] = []  # one per `with` this object is inside

    # recording ---------------------------------------------------------------------------------
    def observe(self, slot: int, value: Any) -> None:
        site = SUBEXPRESSIONS[slot]
        statement = site.statement
        execution = self._open.get(statement)
        if site.repeats and execution is not None and slot <= execution.last_slot:
            if slot in execution.repeated:  # a later item of a comprehension: the first stands
                return
            execution.repeated.add(slot)
        elif execution is None or slot <= execution.last_slot:
            if execution is not None:
                self._close(statement, execution)
            self._runs += 1
            execution = self._open[statement] = _Execution(started=self._runs)
        elif site.repeats:
            execution.repeated.add(slot)
        info = _describe_cached(value)
        if info is not None:
            execution.values.append((slot, info))
        execution.last_slot = max(slot, execution.last_slot)
        if slot == statement.last_slot:
            del self._open[statement]
            self._close(statement, execution)

    def _close(self, statement: Statement, execution: _Execution) -> None:
        if not execution.values:
            return
        key = (statement, tuple(execution.values))
        seen = self._seen.get(key)
        if seen is not None:
            seen.count += 1
            return
        shapes = _statement_shapes(statement, execution.values)
        shapes.started = execution.started
        self._seen[key] = shapes
        self.statements.append(shapes)
        if self.show:
            self._emit(shapes)

    # output ------------------------------------------------------------------------------------
    def _emit(self, shapes: StatementShapes) -> None:
        self._output_for().statement(shapes)

    def summary(self, width: int = 80) -> str:
        """Each statement seen with the shapes of its operands and result, as plain text."""
        from tensorsight.debugger.explain_render import summary_text

        return summary_text(self.statements, width)

    def text(self, width: int = 80) -> str:
        """Every statement drawn as text, then the summary."""
        drawn = [shapes.text(width) for shapes in self.statements]
        return "\n\n".join([*drawn, self.summary(width)])

    def _repr_html_(self) -> str:
        from tensorsight.debugger.explain_render import explanation_html

        return explanation_html(self)

    # session -----------------------------------------------------------------------------------
    def _start(self, *, fresh: bool = True) -> None:
        if not self._previous:  # not an inner call of a decorated function
            if fresh:
                self.statements.clear()
                self._seen.clear()
            self._open.clear()
            self._shown = len(self.statements)
        self._previous.append(instrument.activate(self))

    def _finish(self) -> None:
        instrument.activate(self._previous.pop())
        if self._previous:  # an inner call of a decorated function: the outer one reports
            return
        for statement, execution in list(self._open.items()):
            self._close(statement, execution)
        self._open.clear()
        if self.show and len(self.statements) > self._shown:
            self._output_for().summary(self.statements)
        self._output = None

    def _output_for(self) -> Any:
        if self._output is None:
            from tensorsight.debugger.explain_render import Output

            self._output = Output(self.file)
        return self._output

    # decorator ---------------------------------------------------------------------------------
    def __call__(self, func: F) -> F:
        """Decorate ``func``: its calls are explained (its instrumented twin runs instead).

        Records accumulate over calls: a statement is shown again only when it runs with a
        shape signature not seen in an earlier call (a smaller last batch, say), and a call
        that showed something new ends with the summary so far. The wrapper's ``explanation``
        attribute is this object, whose ``statements`` hold the records.
        """
        if not isinstance(func, types.FunctionType) or _is_resumable(func):
            raise TypeError("explain() decorates plain Python functions (not generators, "
                            f"coroutines or builtins); got {func!r}")
        twin = instrument.instrumented_function(func, follow_calls=self.calls)

        @functools.wraps(func)
        def explained(*args: Any, **kwargs: Any) -> Any:
            self._start(fresh=False)
            try:
                return twin(*args, **kwargs)
            finally:
                self._finish()

        explained.explanation = self  # type: ignore[attr-defined]
        return explained  # type: ignore[return-value]

    # context manager ---------------------------------------------------------------------------
    def __enter__(self) -> Explanation:
        frame = sys._getframe(1)
        if frame.f_code.co_code[frame.f_lasti] != _BEFORE_WITH:
            raise TypeError("use explain() directly in a `with` statement or as a decorator")
        block = _block_for(frame, self.calls)
        tracing = _Tracing(frame, sys.gettrace(), frame.f_trace, frame.f_trace_opcodes)
        self._tracing.append(tracing)
        self._start()
        if block is None:
            if self.show:
                self._output_for().note(f"explain(): no source for {frame.f_code.co_filename};"
                                        " the block runs unexplained")
        elif block.body_offsets:
            frame.f_trace_opcodes = True
            frame.f_trace = functools.partial(_enter_block, tracing, block)
            sys.settrace(_trace_nothing)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: Any) -> bool:
        self._tracing.pop().restore()
        self._finish()
        return isinstance(error, _SkipBlock)


def _is_resumable(func: types.FunctionType) -> bool:
    return (inspect.isgeneratorfunction(func) or inspect.iscoroutinefunction(func)
            or inspect.isasyncgenfunction(func))


def _trace_nothing(frame: types.FrameType, event: str, arg: Any) -> None:
    """The global trace function while waiting for a block: follow no new frame."""
    return None


_NOT_ARRAYS: set[type] = set()
_TORCH_TYPES: set[type] = set()
_INFOS: dict[tuple[Any, ...], TensorInfo] = {}


def _describe_cached(value: Any) -> TensorInfo | None:
    """:func:`describe`, memoised on (type, shape, dtype[, device]): it runs on every observed
    value, and formatting a NumPy dtype's name alone costs microseconds."""
    kind = type(value)
    if kind in _NOT_ARRAYS:
        return None
    try:
        key = (kind, value.shape, value.dtype, value.device if kind in _TORCH_TYPES else None)
        info = _INFOS.get(key)
    except (AttributeError, TypeError):  # no shape/dtype, or an unhashable shape
        key, info = None, None
    if info is None:
        info = describe(value)
        if info is None:
            _NOT_ARRAYS.add(kind)
        elif key is not None:
            if info.framework == "torch" and kind not in _TORCH_TYPES:
                _TORCH_TYPES.add(kind)  # its key must include the device from now on
            else:
                if len(_INFOS) > 4096:
                    _INFOS.clear()
                _INFOS[key] = info
    return info


@dataclass(frozen=True)
class _Tracing:
    """The trace settings found on entering a block, put back once it starts and on exit."""

    frame: types.FrameType
    global_trace: Any
    frame_trace: Any
    opcodes: bool

    def restore(self) -> None:
        sys.settrace(self.global_trace)
        self.frame.f_trace = self.frame_trace
        self.frame.f_trace_opcodes = self.opcodes


def _enter_block(tracing: _Tracing, block: _Block, frame: types.FrameType, event: str,
                 arg: Any) -> Any:
    """Trace function of the ``with`` frame: on the block's first instruction, run its twin
    (with tracing already restored), then skip the original block."""
    if event != "opcode" or frame.f_lasti not in block.body_offsets:
        return frame.f_trace
    tracing.restore()
    block.run(frame)
    raise _SkipBlock


# ---------------------------------------------------------------------------------------------
# Blocks: the instrumented twin of a `with explain():` body


@dataclass
class _Block:
    """A ``with`` body's instrumented twin for one frame kind, and where the original starts."""

    with_node: ast.With
    unit_body: list[ast.stmt]
    filename: str
    function: str
    body_offsets: frozenset[int]
    module_level: bool
    bound: frozenset[str]
    referenced: frozenset[str]
    compiled: dict[tuple[str, ...], types.CodeType] = field(default_factory=dict)

    def run(self, frame: types.FrameType) -> None:
        """Run the twin with ``frame``'s variables; bind what it bound back in ``frame``."""
        helpers = (instrument.record, instrument.call)
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
            export = ast.Expr(ast.Call(
                ast.Attribute(ast.Name(instrument.OUT, ast.Load()), "update", ast.Load()),
                [ast.Call(ast.Name("locals", ast.Load()), [], [])], []))
            body = [ast.Try(body, [], [], [export])]
        arguments = [ast.arg(name) for name in (*_HELPERS, *params)]
        definition = ast.FunctionDef(self.function, ast.arguments([], arguments, None, [], [],
                                                                  None, []), body, [], None)
        ast.copy_location(definition, self.with_node)
        module = ast.Module([definition], [])
        ast.fix_missing_locations(module)
        compiled = compile(module, self.filename, "exec")
        return next(c for c in compiled.co_consts if isinstance(c, types.CodeType))


_BLOCKS: dict[tuple[types.CodeType, int, bool], _Block | None] = {}


def _block_for(frame: types.FrameType, calls: bool) -> _Block | None:
    """The cached instrumented twin of the ``with`` body that ``frame`` is entering."""
    key = (frame.f_code, frame.f_lasti, calls)
    if key not in _BLOCKS:
        _BLOCKS[key] = _make_block(frame, calls)
    return _BLOCKS[key]


def _make_block(frame: types.FrameType, calls: bool) -> _Block | None:
    code = frame.f_code
    positions = list(code.co_positions())
    with_span = positions[frame.f_lasti // 2]
    try:
        lines, tree = instrument.source_tree(code.co_filename, frame.f_globals)
    except instrument.SourceUnavailable:
        return None
    with_node = next(
        (node for node in ast.walk(tree) if isinstance(node, ast.With)
         and (node.lineno, node.end_lineno, node.col_offset, node.end_col_offset) == with_span),
        None,
    )
    if with_node is None:
        return None
    _reject_jumps(with_node)
    body = copy.deepcopy(with_node.body)
    unit = instrument.instrument_block(body, code.co_filename, lines, code.co_name,
                                       frame.f_globals, follow_calls=calls)
    body_span = Span(with_node.body[0].lineno, with_node.body[0].col_offset,
                     with_node.body[-1].end_lineno or 0, with_node.body[-1].end_col_offset or 0)
    offsets = frozenset(
        2 * index
        for index, (line, end_line, col, end_col) in enumerate(positions)
        if None not in (line, end_line, col, end_col)
        and body_span.contains(Span(line, col, end_line, end_col))  # type: ignore[arg-type]
    )
    module_level = frame.f_locals is frame.f_globals
    name = code.co_name if code.co_name.isidentifier() else "explained_block"
    return _Block(with_node, unit.body, code.co_filename, name, offsets, module_level,
                  frozenset(_bound_names(with_node.body)),
                  frozenset(node.id for node in ast.walk(ast.Module(with_node.body, []))
                            if isinstance(node, ast.Name)))


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


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
            raise SyntaxError(f"explain(): a `with explain():` block cannot contain `{word}` "
                              f"(line {node.lineno}); decorate the function with @explain instead")
        if isinstance(node, ast.Nonlocal):
            raise SyntaxError(f"explain(): `nonlocal` at line {node.lineno} cannot be used in a "
                              "`with explain():` block; decorate the function with @explain")
        if isinstance(node, ast.Break | ast.Continue):
            raise SyntaxError(f"explain(): `{type(node).__name__.lower()}` at line {node.lineno}"
                              " leaves the `with explain():` block; put the loop inside it")
        if not isinstance(node, _SCOPES + loops):
            pending.extend(ast.iter_child_nodes(node))
        elif isinstance(node, loops):
            pending.extend(child for child in ast.iter_child_nodes(node)
                           if not isinstance(child, ast.stmt))
            pending.extend(_no_loop_jumps(node))


def _no_loop_jumps(loop: ast.For | ast.AsyncFor | ast.While) -> Iterator[ast.AST]:
    """Statements inside a loop where return/yield still matter but break/continue do not."""
    for node in ast.walk(ast.Module([*loop.body, *loop.orelse], [])):
        if isinstance(node, ast.Return | ast.Yield | ast.YieldFrom | ast.Await):
            yield node


# ---------------------------------------------------------------------------------------------
# Turning observed values into records


def _statement_shapes(statement: Statement,
                      values: list[tuple[int, TensorInfo]]) -> StatementShapes:
    seen = {slot for slot, _ in values}
    infos = dict(values)

    def tensor_operands(slot: int) -> list[int]:
        """Nearest recorded descendants of ``slot`` (skipping non-array sub-expressions)."""
        found: list[int] = []
        for child in SUBEXPRESSIONS[slot].operands:
            found.extend([child] if child in seen else tensor_operands(child))
        return found

    children = {slot: tensor_operands(slot) for slot in seen}
    inner = {child for kids in children.values() for child in kids}
    leaves = [slot for slot, _ in values if not children[slot]]
    leaf_dtypes = {infos[slot].dtype for slot in leaves}
    operands = []
    for slot, info in values:
        kids = children[slot]
        changed = any(infos[kid].dtype != info.dtype for kid in kids) if kids else (
            len(leaf_dtypes) > 1)
        site = SUBEXPRESSIONS[slot]
        operands.append(Operand(site.source, site.span, info.shape, info.dtype, info.framework,
                                changed))
    index = {slot: position for position, (slot, _) in enumerate(values)}
    roots = tuple(index[slot] for slot, _ in values if slot not in inner)
    return StatementShapes(statement, tuple(operands), roots, tuple(index[s] for s in leaves))


# ---------------------------------------------------------------------------------------------
# Public entry point


@overload
def explain(func: F, /) -> F: ...


@overload
def explain(*, file: IO[str] | None = None, calls: bool = False,
            show: bool = True) -> Explanation: ...


def explain(func: Any = None, /, *, file: IO[str] | None = None, calls: bool = False,
            show: bool = True) -> Any:
    """Show each executed tensor statement with the shape under every sub-expression.

    Use as ``with explain():`` or as a decorator (``@explain`` or ``@explain(calls=True)``).
    ``calls=True`` also explains the user's own functions and ``nn.Module.forward`` methods
    called from the block. ``file`` receives the text (default: stdout; in Jupyter an SVG is
    displayed per statement); ``show=False`` only records. The returned :class:`Explanation`
    keeps the records: ``.statements`` (each with ``.operands``: source, span, shape, dtype).

    A statement in a loop is shown once per distinct shape signature; a summary ends the block.

    >>> import io, numpy as np
    >>> @explain(file=io.StringIO())
    ... def affine(x, W, b):
    ...     return x @ W + b
    >>> affine(np.ones((2, 3)), np.ones((3, 4)), np.ones(4)).shape
    (2, 4)
    """
    explanation = Explanation(file=file, calls=calls, show=show)
    if func is not None:
        return explanation(func)
    return explanation

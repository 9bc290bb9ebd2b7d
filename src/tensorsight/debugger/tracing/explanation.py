"""``explain()``: show every executed tensor statement with the shape of each sub-expression.

How it observes shapes (no sub-expression is ever evaluated twice):

* The block's (or decorated function's) source is parsed once and every sub-expression ``e`` is
  rewritten into ``__ts_record__(slot, e)``, which reads ``e``'s shape and dtype and returns ``e``
  unchanged (:mod:`tensorsight.debugger.tracing.rewrite`). The rewritten code is compiled once
  per site and kept in a bounded cache; it is what runs, once, instead of the original.
* Decorator: the function's twin is compiled with the same globals and closure cells.
* ``with explain():``: the block's twin runs instead of the block
  (:mod:`tensorsight.debugger.tracing.blocks`).
* Records go to this thread's active observer only: two threads explaining at once keep apart.

>>> import numpy as np, io
>>> x, W = np.ones((2, 3)), np.ones((3, 4))
>>> with explain(file=io.StringIO()) as shapes:
...     y = x @ W
>>> shapes.statements[0].operands[-1].shape
(2, 4)
"""

from __future__ import annotations

import dis
import functools
import inspect
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, TypeVar, overload

from tensorsight.debugger.arrays import TensorInfo, dims_text
from tensorsight.debugger.frames import Span
from tensorsight.debugger.tracing.blocks import SkipBlock, Tracing, block_for
from tensorsight.debugger.tracing.infos import describe_cached
from tensorsight.debugger.tracing.records import Observer, activate
from tensorsight.debugger.tracing.rewrite import Statement, SubExpression
from tensorsight.debugger.tracing.twins import instrumented_function

F = TypeVar("F", bound=Callable[..., Any])
_BEFORE_WITH = dis.opmap["BEFORE_WITH"]


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
        shape = dims_text(self.shape)
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
        from tensorsight.debugger.render.statements import statement_text

        return statement_text(self, width)

    def svg(self) -> str:
        """The statement drawn as SVG, like the text but with boxes."""
        from tensorsight.debugger.render.statements import statement_svg

        return statement_svg(self)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from tensorsight.debugger.render.statements import statement_rich

        yield statement_rich(self, options.max_width)


@dataclass
class _Execution:
    """The values seen so far in one execution of one statement."""

    values: list[tuple[int, TensorInfo]] = field(default_factory=list)
    last_slot: int = -1
    repeated: set[int] = field(default_factory=set)  # comprehension slots already recorded
    started: int = 0


class Explanation(Observer):
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
        self._previous: list[Observer | None] = []  # a stack: calls may recurse
        self._output: Any = None
        self._shown = 0
        self._runs = 0
        self._tracing: list[Tracing] = []  # one per `with` this object is inside

    # recording ---------------------------------------------------------------------------------
    def observe(self, site: SubExpression, value: Any) -> None:
        """Add ``value`` to the open execution of its statement (opening one if needed)."""
        slot, statement = site.slot, site.statement
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
        info = describe_cached(value)
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
        from tensorsight.debugger.render.statements import summary_text

        return summary_text(self.statements, width)

    def text(self, width: int = 80) -> str:
        """Every statement drawn as text, then the summary."""
        drawn = [shapes.text(width) for shapes in self.statements]
        return "\n\n".join([*drawn, self.summary(width)])

    def _repr_html_(self) -> str:
        from tensorsight.debugger.render.statements import explanation_html

        return explanation_html(self)

    # session -----------------------------------------------------------------------------------
    def _start(self, *, fresh: bool = True) -> None:
        if not self._previous:  # not an inner call of a decorated function
            if fresh:
                self.statements.clear()
                self._seen.clear()
            self._open.clear()
            self._shown = len(self.statements)
        self._previous.append(activate(self))

    def _finish(self) -> None:
        activate(self._previous.pop())
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
            from tensorsight.debugger.render.statements import Output

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
            raise TypeError(
                "explain() decorates plain Python functions (not generators, "
                f"coroutines or builtins); got {func!r}"
            )
        twin = instrumented_function(func, follow_calls=self.calls)

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
        block = block_for(frame, self.calls)
        self._tracing.append(Tracing.of(frame))
        self._start()
        if block is None:
            if self.show:
                self._output_for().note(
                    f"explain(): no source for {frame.f_code.co_filename};"
                    " the block runs unexplained"
                )
        else:
            self._tracing[-1].run_instead(block)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: Any
    ) -> bool:
        self._tracing.pop().restore()
        self._finish()
        return isinstance(error, SkipBlock)


def _is_resumable(func: types.FunctionType) -> bool:
    return (
        inspect.isgeneratorfunction(func)
        or inspect.iscoroutinefunction(func)
        or inspect.isasyncgenfunction(func)
    )


# ---------------------------------------------------------------------------------------------
# Turning observed values into records


def _statement_shapes(
    statement: Statement, values: list[tuple[int, TensorInfo]]
) -> StatementShapes:
    seen = {slot for slot, _ in values}
    infos = dict(values)

    def tensor_operands(slot: int) -> list[int]:
        """Nearest recorded descendants of ``slot`` (skipping non-array sub-expressions)."""
        found: list[int] = []
        for child in statement.table[slot].operands:
            found.extend([child] if child in seen else tensor_operands(child))
        return found

    children = {slot: tensor_operands(slot) for slot in seen}
    inner = {child for kids in children.values() for child in kids}
    leaves = [slot for slot, _ in values if not children[slot]]
    leaf_dtypes = {infos[slot].dtype for slot in leaves}
    operands = []
    for slot, info in values:
        kids = children[slot]
        changed = (
            any(infos[kid].dtype != info.dtype for kid in kids) if kids else (len(leaf_dtypes) > 1)
        )
        site = statement.table[slot]
        operands.append(
            Operand(site.source, site.span, info.shape, info.dtype, info.framework, changed)
        )
    index = {slot: position for position, (slot, _) in enumerate(values)}
    roots = tuple(index[slot] for slot, _ in values if slot not in inner)
    return StatementShapes(statement, tuple(operands), roots, tuple(index[s] for s in leaves))


# ---------------------------------------------------------------------------------------------
# Public entry point


@overload
def explain(func: F, /) -> F: ...


@overload
def explain(
    *, file: IO[str] | None = None, calls: bool = False, show: bool = True
) -> Explanation: ...


def explain(
    func: Any = None, /, *, file: IO[str] | None = None, calls: bool = False, show: bool = True
) -> Any:
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

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
import copy
import linecache
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Dunder names: never mangled inside class bodies, never clash with user names.
RECORD = "__ts_record__"
CALL = "__ts_call__"
OUT = "__ts_out__"


@dataclass(frozen=True)
class Span:
    """A source span: 1-based lines, 0-based columns (``ast`` conventions), end exclusive."""

    line: int
    col: int
    end_line: int
    end_col: int

    @classmethod
    def of(cls, node: ast.AST) -> Span:
        return cls(node.lineno, node.col_offset,  # type: ignore[attr-defined]
                   node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def contains(self, other: Span) -> bool:
        return (self.line, self.col) <= (other.line, other.col) and (
            other.end_line,
            other.end_col,
        ) <= (self.end_line, self.end_col)


@dataclass(eq=False)
class Statement:
    """One instrumented statement (or a compound statement's header, ``for x in xs:``).

    ``lines`` are the source lines shown for it, without their common ``indent``;
    ``last_slot`` is the slot of the last sub-expression it evaluates: seeing it ends a run.
    """

    filename: str
    function: str
    span: Span
    lines: tuple[str, ...]
    indent: int
    last_slot: int = -1

    @property
    def location(self) -> str:
        return f"{Path(self.filename).name}:{self.span.line}"


@dataclass(frozen=True)
class SubExpression:
    """One instrumented sub-expression: its slot, statement, span, source text and the slots of
    the nearest instrumented sub-expressions inside it (its operands)."""

    slot: int
    statement: Statement
    span: Span
    source: str
    operands: tuple[int, ...]
    repeats: bool = False  # inside a comprehension: evaluated once per item of one execution


# Every sub-expression ever instrumented, indexed by slot; append-only so slots stay valid.
SUBEXPRESSIONS: list[SubExpression] = []


class Observer:
    """What instrumented code reports to; :mod:`tensorsight.debugger.explain` sets one active."""

    calls = False

    def observe(self, slot: int, value: Any) -> None:  # pragma: no cover - interface
        raise NotImplementedError


_active: Observer | None = None


def activate(observer: Observer | None) -> Observer | None:
    """Make ``observer`` the one instrumented code reports to; returns the previous one."""
    global _active
    previous, _active = _active, observer
    return previous


def record(slot: int, value: Any) -> Any:
    """Hand ``value`` to the active observer and return it unchanged (keeps no reference)."""
    observer = _active
    if observer is not None:
        observer.observe(slot, value)
    return value


def call(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``func``, through its instrumented twin when the active observer follows calls."""
    observer = _active
    if observer is None or not observer.calls:
        return func(*args, **kwargs)
    return instrumented_callable(func)(*args, **kwargs)


@dataclass(frozen=True)
class Unit:
    """The instrumented statements of a block or function, with their sub-expressions."""

    body: list[ast.stmt]
    statements: tuple[Statement, ...]
    sites: tuple[SubExpression, ...]


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
        self.modules = {name for name, value in modules.items()
                        if isinstance(value, types.ModuleType)}
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
        statement = Statement(self.filename, self.function, span, lines, indent)
        return self._StatementScope(self, statement)

    # expressions ------------------------------------------------------------------------------
    def expr(self, node: ast.expr, *, callee: bool = False) -> ast.expr:
        """Rewrite ``node``'s operands, then wrap ``node`` itself unless it cannot hold an array."""
        first_slot = len(SUBEXPRESSIONS)
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
        slot = len(SUBEXPRESSIONS)
        inner = {operand for site in SUBEXPRESSIONS[first_slot:] for operand in site.operands}
        operands = tuple(
            site.slot for site in SUBEXPRESSIONS[first_slot:] if site.slot not in inner
        )
        site = SubExpression(slot, self.statement, Span.of(node), self._source(node), operands,
                             self.repeating > 0)
        SUBEXPRESSIONS.append(site)
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


# ---------------------------------------------------------------------------------------------
# Source lookup


class SourceUnavailable(Exception):
    """The source of the code to instrument cannot be found (interactive prompt, ``exec``...)."""


_TREES: dict[str, tuple[tuple[str, ...], ast.Module]] = {}


def source_tree(
    filename: str, module_globals: Mapping[str, Any] | None = None
) -> tuple[list[str], ast.Module]:
    """The lines of ``filename`` (through linecache, so notebooks work) and their syntax tree.

    The returned tree is shared: callers must deep-copy nodes before rewriting them.
    """
    lines = linecache.getlines(filename, dict(module_globals) if module_globals else None)
    if not lines:
        raise SourceUnavailable(f"no source for {filename}")
    cached = _TREES.get(filename)
    if cached is not None and cached[0] == tuple(lines):
        return lines, cached[1]
    try:
        tree = ast.parse("".join(lines), filename)
    except SyntaxError as error:
        raise SourceUnavailable(f"{filename} does not parse: {error}") from error
    _TREES[filename] = (tuple(lines), tree)
    return lines, tree


# ---------------------------------------------------------------------------------------------
# Functions: instrument once per code object


_FUNCTIONS: dict[tuple[types.CodeType, bool], types.CodeType] = {}
_LIBRARY_ROOTS = tuple(
    {str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parent.parent)}
)


def is_user_code(code: types.CodeType) -> bool:
    """True for code written by the user: not the standard library, installed packages, or us."""
    filename = code.co_filename
    if filename.startswith("<") and not filename.startswith("<ipython-input"):
        return False
    try:
        resolved = str(Path(filename).resolve())
    except OSError:
        return False
    return not resolved.startswith(_LIBRARY_ROOTS)


def _function_node(tree: ast.Module, code: types.CodeType) -> ast.FunctionDef:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == code.co_name:
            first = node.decorator_list[0].lineno if node.decorator_list else node.lineno
            if first == code.co_firstlineno:
                return node
    raise SourceUnavailable(f"cannot find the definition of {code.co_name} in {code.co_filename}")


def _class_name(qualname: str) -> str | None:
    parts = qualname.split(".")
    return parts[-2] if len(parts) >= 2 and parts[-2] != "<locals>" else None


def instrumented_code(
    function: types.FunctionType, *, follow_calls: bool = False
) -> types.CodeType:
    """The code object of ``function`` rewritten to record its sub-expressions (cached).

    Its free variables are those of the original plus :data:`RECORD` and :data:`CALL`, so the
    twin shares the original's closure cells.
    """
    original = function.__code__
    key = (original, follow_calls)
    cached = _FUNCTIONS.get(key)
    if cached is not None:
        return cached
    lines, tree = source_tree(original.co_filename, function.__globals__)
    node = _function_node(tree, original)
    node = copy.deepcopy(node)
    node.decorator_list = []
    unit = instrument_block(node.body, original.co_filename, lines, original.co_name,
                            function.__globals__, follow_calls=follow_calls)
    node.body = unit.body
    # Compile the def inside a factory whose locals are the closure names, so the compiler makes
    # them free variables of the twin; a class wrapper keeps name mangling and ``super()``.
    # The factory never runs; when the def is not in a class, a `global` keeps the function's
    # own name global in the twin (recursion) instead of a closure over the factory's local.
    inner: list[ast.stmt] = [node]
    class_name = _class_name(function.__qualname__)
    if class_name is not None:
        inner = [ast.ClassDef(class_name, [], [], inner, [])]
    elif node.name not in original.co_freevars:
        inner.insert(0, ast.Global([node.name]))
    names = [RECORD, CALL, *original.co_freevars]
    factory = ast.FunctionDef(
        "__ts_factory",
        ast.arguments([], [ast.arg(name) for name in names if name != "__class__"], None, [], [],
                      None, []),
        inner, [], None,
    )
    module = ast.Module([factory], [])
    ast.copy_location(factory, node)
    ast.fix_missing_locations(module)
    compiled = compile(module, original.co_filename, "exec")
    twin = _find_code(compiled, original.co_name)
    _FUNCTIONS[key] = twin
    return twin


def _find_code(code: types.CodeType, name: str) -> types.CodeType:
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            if constant.co_name == name:
                return constant
            try:
                return _find_code(constant, name)
            except LookupError:
                continue
    raise LookupError(name)


def instrumented_function(
    function: types.FunctionType, *, follow_calls: bool = False
) -> types.FunctionType:
    """A twin of ``function`` that records its sub-expressions; shares globals and closure."""
    code = instrumented_code(function, follow_calls=follow_calls)
    own = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    helpers = {RECORD: types.CellType(record), CALL: types.CellType(call)}
    closure = tuple(own[name] if name in own else helpers[name] for name in code.co_freevars)
    twin = types.FunctionType(code, function.__globals__, function.__name__,
                              function.__defaults__, closure)
    twin.__kwdefaults__ = function.__kwdefaults__
    twin.__dict__.update(function.__dict__)
    twin.__qualname__ = function.__qualname__
    return twin


# Twins of the functions met through `call`; weak so closures made per step do not pile up.
_TWINS: weakref.WeakKeyDictionary[types.FunctionType, types.FunctionType] = (
    weakref.WeakKeyDictionary())
_NO_TWIN = types.FunctionType((lambda: None).__code__, {})


def instrumented_callable(func: Callable[..., Any]) -> Callable[..., Any]:
    """What :func:`call` runs for ``func``: an instrumented twin for the user's own Python
    functions, methods and ``torch.nn.Module`` forwards; ``func`` itself for everything else."""
    if isinstance(func, types.FunctionType) and is_user_code(func.__code__):
        return _twin(func)
    if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
        if is_user_code(func.__func__.__code__):
            return types.MethodType(_twin(func.__func__), func.__self__)
        return func
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(func, torch.nn.Module):
        forward = getattr(type(func), "forward", None)
        if isinstance(forward, types.FunctionType) and is_user_code(forward.__code__):
            return _ModuleCall(func, _twin(forward))
    return func


def _twin(function: types.FunctionType) -> types.FunctionType:
    twin = _TWINS.get(function)
    if twin is None:
        try:
            twin = instrumented_function(function, follow_calls=True)
        except SourceUnavailable:  # a lambda, code typed at a prompt: call it as it is
            twin = _NO_TWIN
        _TWINS[function] = twin
    return function if twin is _NO_TWIN else twin


class _ModuleCall:
    """Calls a module through ``Module.__call__`` (hooks included) with its forward instrumented."""

    def __init__(self, module: Any, forward: types.FunctionType) -> None:
        self.module, self.forward = module, forward

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        instance = self.module.__dict__
        if "forward" in instance:  # already routed (recursion) or user-patched: leave it alone
            return self.module(*args, **kwargs)
        instance["forward"] = types.MethodType(self.forward, self.module)
        try:
            return self.module(*args, **kwargs)
        finally:
            del instance["forward"]

"""Instrumented twins of the user's functions, compiled once and kept in bounded caches.

A twin is the function's code rewritten by :mod:`rewrite`, compiled with the same globals and
closure cells, so calling it computes exactly what the original computes while reporting each
sub-expression's value. ``explain(calls=True)`` routes calls through :func:`call`, which runs
the twin of the user's own functions, methods and ``nn.Module.forward`` methods.
"""

from __future__ import annotations

import ast
import copy
import sys
import types
import weakref
from collections.abc import Callable
from typing import Any

from tensorsight.debugger.bounded import BoundedCache
from tensorsight.debugger.frames import SourceUnavailable, file_tree, is_user_function
from tensorsight.debugger.tracing.records import active
from tensorsight.debugger.tracing.rewrite import CALL, RECORD, instrument_block

# (original code, follow calls) -> (twin code, its recorder); bounded: code made per step
# (closures in a training loop) must not pile up.
_FUNCTIONS: BoundedCache[tuple[types.CodeType, bool], tuple[types.CodeType, Callable[..., Any]]] = (
    BoundedCache(256)
)


def call(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """Call ``func``, through its instrumented twin when this thread's observer follows calls."""
    observer = active()
    if observer is None or not observer.calls:
        return func(*args, **kwargs)
    return instrumented_callable(func)(*args, **kwargs)


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
) -> tuple[types.CodeType, Callable[..., Any]]:
    """The code object of ``function`` rewritten to record its sub-expressions, and the
    recorder it reports through (cached).

    Its free variables are those of the original plus :data:`RECORD` and :data:`CALL`, so the
    twin shares the original's closure cells.
    """
    original = function.__code__
    key = (original, follow_calls)
    cached = _FUNCTIONS.get(key)
    if cached is not None:
        return cached
    lines, tree = file_tree(original.co_filename, function.__globals__)
    node = _function_node(tree, original)
    node = copy.deepcopy(node)
    node.decorator_list = []
    unit = instrument_block(
        node.body,
        original.co_filename,
        lines,
        original.co_name,
        function.__globals__,
        follow_calls=follow_calls,
    )
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
        ast.arguments(
            [], [ast.arg(name) for name in names if name != "__class__"], None, [], [], None, []
        ),
        inner,
        [],
        None,
    )
    module = ast.Module([factory], [])
    ast.copy_location(factory, node)
    ast.fix_missing_locations(module)
    compiled = compile(module, original.co_filename, "exec")
    twin = _find_code(compiled, original.co_name), unit.recorder()
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
    code, record = instrumented_code(function, follow_calls=follow_calls)
    own = dict(zip(function.__code__.co_freevars, function.__closure__ or (), strict=True))
    helpers = {RECORD: types.CellType(record), CALL: types.CellType(call)}
    closure = tuple(own[name] if name in own else helpers[name] for name in code.co_freevars)
    twin = types.FunctionType(
        code, function.__globals__, function.__name__, function.__defaults__, closure
    )
    twin.__kwdefaults__ = function.__kwdefaults__
    twin.__dict__.update(function.__dict__)
    twin.__qualname__ = function.__qualname__
    return twin


# Twins of the functions met through `call`; weak so closures made per step do not pile up.
_TWINS: weakref.WeakKeyDictionary[types.FunctionType, types.FunctionType] = (
    weakref.WeakKeyDictionary()
)
_NO_TWIN = types.FunctionType((lambda: None).__code__, {})


def instrumented_callable(func: Callable[..., Any]) -> Callable[..., Any]:
    """What :func:`call` runs for ``func``: an instrumented twin for the user's own Python
    functions, methods and ``torch.nn.Module`` forwards; ``func`` itself for everything else."""
    if isinstance(func, types.FunctionType) and is_user_function(func):
        return _twin(func)
    if isinstance(func, types.MethodType) and isinstance(func.__func__, types.FunctionType):
        if is_user_function(func.__func__):
            return types.MethodType(_twin(func.__func__), func.__self__)
        return func
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(func, torch.nn.Module):
        forward = getattr(type(func), "forward", None)
        if isinstance(forward, types.FunctionType) and is_user_function(forward):
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

"""Explain one failing tensor operation: dispatch on what failed to the rule for it.

:func:`clarify_error` is the entry point. It locates the user's failing sub-expression
(:mod:`tensorsight.debugger.frames`), and hands it to the rule for that kind of operation:
operators (:mod:`operators`), library functions (:mod:`functions`), indexing (:mod:`indexing`),
``nn.Module`` calls (:mod:`layers`), or the generic rule, which names the operation and its
operands and, when it can, explains the inner operation that raised inside the library.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, replace
from typing import Any

from tensorsight.debugger.clarifying.context import Context, Recorded, from_callee
from tensorsight.debugger.clarifying.derive import BROADCAST_FUNCTIONS, derive_unknown
from tensorsight.debugger.clarifying.functions import (
    SPATIAL_DIMS,
    concatenate,
    dim_out_of_range,
    einsum,
    elements,
    functional_layer,
    reshape,
)
from tensorsight.debugger.clarifying.indexing import subscript
from tensorsight.debugger.clarifying.layers import MODULE_CALLS, module_call
from tensorsight.debugger.clarifying.note import Clarification
from tensorsight.debugger.clarifying.operands import Operand
from tensorsight.debugger.clarifying.operators import binary, elementwise, matmul
from tensorsight.debugger.clarifying.phrases import generic
from tensorsight.debugger.frames import (
    array_library,
    called_name,
    library_callable,
    locate,
    site_at,
)

TENSOR_ERRORS = (ValueError, TypeError, RuntimeError, IndexError)
MATMUL = frozenset({"matmul", "dot", "mm", "bmm", "mv"})
BROADCASTING = BROADCAST_FUNCTIONS | {"add_", "sub_", "mul_", "div_", "copy_"}
CONCATENATE = frozenset({"cat", "concat", "concatenate", "hstack", "vstack", "stack"})
RESHAPE = frozenset({"reshape", "view"})
FUNCTIONAL_LAYERS = frozenset({"linear", *SPATIAL_DIMS})


def is_tensor_error(error: BaseException) -> bool:
    """The errors a note can explain: shape/dtype/index errors, and assertions that an array
    library's own code raised (``nn.MultiheadAttention`` checks its inputs with ``assert``)."""
    if isinstance(error, TENSOR_ERRORS):
        return True
    if not isinstance(error, AssertionError):
        return False
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and array_library(tb.tb_frame.f_globals.get("__name__")) is not None


def clarify_error(error: BaseException, recorded: Recorded | None = None) -> Clarification | None:
    """The :class:`Clarification` of a tensor error, or None for any other exception.

    ``recorded`` is ``(function, args, kwargs)`` of the last torch call, when a recorder saw it.

    >>> import numpy as np
    >>> try:
    ...     np.ones((2, 3)) @ np.ones((4, 5))
    ... except ValueError as error:
    ...     print(clarify_error(error).headline())  # doctest: +SKIP
    """
    if not is_tensor_error(error):
        return None
    site = locate(error.__traceback__)
    if site is None:
        return None
    return explain_site(Context(site, error, recorded))


def explain_site(context: Context) -> Clarification | None:
    """Dispatch on the kind of the failing expression; a generic note learns where inside the
    library it raised."""
    found = _rule(context)
    if found is None or not found.generic or context.inside_library:
        return found
    return replace(found, details=_inside_library(context))


def _rule(context: Context) -> Clarification | None:
    node = context.site.node
    if isinstance(node, ast.BinOp):
        return binary(context, node.left, node.op, node.right)
    if isinstance(node, ast.AugAssign):
        return binary(context, node.target, node.op, node.value, augmented=True)
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return binary(context, node.left, node.ops[0], node.comparators[0])
    if isinstance(node, ast.Call):
        return call(context, node)
    if isinstance(node, ast.Subscript):
        return subscript(context, node)
    return None


def _inside_library(context: Context) -> list[str]:
    """Where in the library it raised, and that inner operation explained when it can be.

    The deepest library frame is read like a user frame: its failing instruction's source span,
    its operands from its locals. Nothing runs again.
    """
    frames = context.site.library_frames
    for depth in range(len(frames) - 1, -1, -1):
        frame = frames[depth]
        module = frame.f_globals.get("__name__") or ""
        if array_library(module) is None:
            continue
        where = f"raised inside {module}.{frame.f_code.co_qualname}"
        site = site_at(frame, frame.f_lasti, frames[depth + 1 :])
        inner = None
        if site is not None:
            inner = explain_site(Context(site, context.error, inside_library=True))
        if inner is None or inner.generic:
            return [where]
        return [
            f"{where}, at `{inner.expression}`: {inner.cause}",
            *(f"  {operand.line()}" for operand in inner.operands),
        ]
    return []


def _called_module(context: Context) -> Any:
    """The ``nn.Module`` whose ``__call__`` frame sits right below the user's frame, if any."""
    frames = context.site.library_frames
    if frames and frames[0].f_code.co_name in MODULE_CALLS:
        return frames[0].f_locals.get("self")
    return None


def _receiver(context: Context, node: ast.Call, function: Any) -> Operand | None:
    """The array a method is called on (``x`` in ``x.view(5, 3)``), if it is one."""
    owner = getattr(function, "__self__", None)
    if owner is not None and Operand.of("", owner).framework:
        assert isinstance(node.func, ast.Attribute)
        return Operand.of(context.text(node.func.value), owner)
    if function is None and isinstance(node.func, ast.Attribute):
        return context.operand(node.func.value)  # e.g. f(x).view(...): unknown, not re-run
    return None


def _flattened(
    context: Context, positional: list[ast.expr], args: list[Operand], received: tuple[Any, ...]
) -> list[Operand]:
    """Arguments with list/tuple arguments such as ``[a, b, c]`` expanded into their elements."""
    operands: list[Operand] = []
    for index, (arg, operand) in enumerate(zip(positional, args, strict=True)):
        if isinstance(operand.value, list | tuple):
            value = received[index] if index < len(received) else None
            operands += elements(context, arg, value)
        else:
            operands.append(operand)
    return operands


def _function(context: Context, node: ast.Call) -> Any:
    """What is being called, read without calling anything (None when unreadable)."""
    try:
        function = context.read(node.func)
    except Exception:  # unreadable, or a property of the user's that raised
        function = None
    if function is None and "torch" in sys.modules:
        function = _called_module(context)
    return function


@dataclass(frozen=True)
class CallSite:
    """A failing call, read once: what is called, on what, with which operands.

    ``received`` is what the called function's own frame holds (its positional arguments).
    """

    node: ast.Call
    name: str
    function: Any
    receiver: Operand | None
    positional: list[ast.expr]
    args: list[Operand]
    received: tuple[Any, ...]

    @property
    def short(self) -> str:
        """The called name without its owner: ``cat`` for ``torch.cat``."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def operands(self) -> list[Operand]:
        """The receiver (for a method) and the positional arguments."""
        return ([self.receiver] if self.receiver else []) + self.args


def call(context: Context, node: ast.Call) -> Clarification | None:
    """Function and method calls: dispatch on what is being called."""
    name = called_name(node.func)
    if "(...)" in name:
        name = context.text(node.func)
    function = _function(context, node)
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(function, torch.nn.Module):
        return module_call(context, node, function, name)
    positional = [arg for arg in node.args if not isinstance(arg, ast.Starred)]
    received = context.callee_arguments(function)
    args = [
        from_callee(op, received[i]) if i < len(received) else op
        for i, op in enumerate(context.operand(arg) for arg in positional)
    ]
    site = CallSite(
        node, name, function, _receiver(context, node, function), positional, args, received
    )
    if function is None or library_callable(function):
        found = _library_rule(context, site)
        if found is not None or _decisive(site):
            return found
    flattened = _flattened(context, positional, args, received)
    receiver = [site.receiver] if site.receiver else []
    return generic(context, context.fill([*receiver, *flattened]), name)


def _decisive(site: CallSite) -> bool:
    """Whether the library rule's answer stands even when it is "nothing to say" (no generic
    note instead): it knew the operation."""
    if site.short in RESHAPE:
        return bool(site.operands)
    return site.short in MATMUL | BROADCASTING | CONCATENATE | FUNCTIONAL_LAYERS | {"einsum"}


def _library_rule(context: Context, site: CallSite) -> Clarification | None:
    """The rule for a NumPy/PyTorch/JAX function or method, by its name."""
    short, node, name = site.short, site.node, site.name
    if short in MATMUL:
        return matmul(context, site.operands, None, name)
    if short in BROADCASTING:
        return elementwise(context, site.operands, None, name)
    if short in CONCATENATE:
        return concatenate(context, node, name, site.received)
    if short in RESHAPE and site.operands:
        subject, target = (
            (site.receiver, node.args) if site.receiver else (site.args[0], node.args[1:2])
        )
        return reshape(context, derive_unknown(context, [subject])[0], target, name)
    if short == "einsum":
        return einsum(context, node, name, site.received)
    if short in FUNCTIONAL_LAYERS:
        return functional_layer(context, node, site.args, name)
    if not site.operands:
        return None
    subject, after = (
        (site.receiver, site.positional) if site.receiver else (site.args[0], site.positional[1:])
    )
    return dim_out_of_range(context, node, derive_unknown(context, [subject])[0], name, after)

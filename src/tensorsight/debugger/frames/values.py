"""Read an operand's value from a live frame without running any of the user's code again."""

from __future__ import annotations

import ast
import builtins
from types import FrameType
from typing import Any


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

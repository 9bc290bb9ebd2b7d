"""Whose code is this: the user's, or a library's? One answer for every part of the debugger.

``clarify()`` looks for the deepest frame of the user's code in a traceback, and ``explain()``
only instruments the user's own functions: both ask :func:`is_library`. Code is a library's
when its module belongs to a package the debugger treats as library (NumPy, PyTorch, JAX, the
standard helpers a ``with`` or a decorator passes through, IPython, tensorsight itself) or when
its file lies in the standard library or in installed packages. Everything else, including code
typed in a notebook cell or a doctest, is the user's.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path
from types import CodeType, FrameType, FunctionType
from typing import Any

from tensorsight.debugger.arrays import describe
from tensorsight.debugger.bounded import BoundedCache

# Top-level packages whose frames are library internals, whatever file they come from.
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
# The array libraries whose frames can say who raised a tensor error.
ARRAY_LIBRARIES = frozenset({"numpy", "torch", "jax", "jaxlib"})

_LIBRARY_ROOTS = tuple(
    {str(Path(sysconfig.get_paths()[key]).resolve()) for key in ("stdlib", "purelib", "platlib")}
    | {str(Path(__file__).resolve().parents[2])}  # the tensorsight package itself
)
_IN_LIBRARY_ROOT: BoundedCache[str, bool] = BoundedCache(1024)


def package_of(module: str | None) -> str:
    """The top-level package of a dotted module name (``""`` for None).

    >>> package_of("numpy.linalg._linalg")
    'numpy'
    """
    return (module or "").partition(".")[0]


def array_library(module: str | None) -> str | None:
    """``numpy``, ``torch`` or ``jax`` when ``module`` belongs to one of them, else None.

    >>> array_library("jaxlib.xla_client"), array_library("json")
    ('jax', None)
    """
    package = package_of(module)
    if package not in ARRAY_LIBRARIES:
        return None
    return "jax" if package == "jaxlib" else package


def _in_library_root(filename: str) -> bool:
    """Whether ``filename`` is a real file of the standard library or an installed package."""
    known = _IN_LIBRARY_ROOT.get(filename)
    if known is None:
        if filename.startswith("<"):  # a prompt, a notebook cell, a doctest: not a library file
            known = False
        else:
            try:
                known = str(Path(filename).resolve()).startswith(_LIBRARY_ROOTS)
            except OSError:
                known = False
        _IN_LIBRARY_ROOT[filename] = known
    return known


def is_library(module: str | None, filename: str) -> bool:
    """True for library code (see the module docstring); user code is everything else.

    >>> is_library("numpy.core", "/anywhere/numpy/core.py"), is_library("__main__", "<stdin>")
    (True, False)
    """
    return package_of(module) in LIBRARY_PACKAGES or _in_library_root(filename)


def is_library_frame(frame: FrameType) -> bool:
    """:func:`is_library` for a running frame."""
    return is_library(frame.f_globals.get("__name__"), frame.f_code.co_filename)


def is_user_function(function: FunctionType) -> bool:
    """Whether ``function`` is the user's (``explain(calls=True)`` follows those)."""
    code: CodeType = function.__code__
    return not is_library(function.__globals__.get("__name__"), code.co_filename)


def library_callable(function: Any) -> bool:
    """Whether ``function`` belongs to NumPy, PyTorch or JAX (a bound method of an array too).

    >>> import numpy as np
    >>> library_callable(np.tanh), library_callable(np.ones(2).sum), library_callable(print)
    (True, True, False)
    """
    owner = getattr(function, "__self__", None)
    if owner is not None and describe(owner) is not None:
        return True
    return array_library(getattr(function, "__module__", None)) is not None

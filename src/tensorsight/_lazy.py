"""Lazy package attributes, so importing a package never imports torch, Starlette or PIL early."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_attributes(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path) on first use.

    >>> __getattr__ = lazy_attributes("pkg", {"dumps": "json"})
    >>> __getattr__("dumps")([1])
    '[1]'
    """

    def __getattr__(name: str) -> Any:
        module_name = exports.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(import_module(module_name), name)

    return __getattr__

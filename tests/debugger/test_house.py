"""The debugger's house rules: internal errors fail tests, records stay in their thread, caches
stay bounded, no module shadows the function it exports, one answer to "whose code is this"."""

from __future__ import annotations

import importlib
import io
import pkgutil
import threading
import types

import numpy as np
import pytest

import tensorsight.debugger
from tensorsight import clarify, explain
from tensorsight.debugger.clarifying import InternalError, operators
from tensorsight.debugger.clarifying.strict import STRICT
from tensorsight.debugger.frames import is_library, is_user_function
from tensorsight.debugger.tracing import twins


def broken_rule(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("integer modulo by zero")


def test_an_internal_error_fails_in_strict_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operators, "_matmul_shapes", broken_rule)
    h, w = np.ones((2, 3)), np.ones((4, 5))
    with pytest.raises(InternalError, match="ZeroDivisionError") as caught, clarify():
        h @ w
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_without_strict_mode_the_users_error_passes_unexplained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(STRICT)
    monkeypatch.setattr(operators, "_matmul_shapes", broken_rule)
    h, w = np.ones((2, 3)), np.ones((4, 5))
    with pytest.raises(ValueError, match="matmul") as caught, clarify():
        h @ w
    assert not getattr(caught.value, "__notes__", [])


def test_two_threads_explaining_at_once_keep_their_own_records() -> None:
    barrier = threading.Barrier(2)
    found: dict[int, list[tuple[int, ...]]] = {}

    def work(size: int) -> None:
        x = np.ones((size, 3))
        with explain(show=False) as shapes:
            for _ in range(50):
                barrier.wait(timeout=10)  # both threads record in lockstep
                y = x @ np.ones((3, size))
        assert y.shape == (size, size)
        found[size] = sorted({op.shape for record in shapes.statements for op in record.operands})

    threads = [threading.Thread(target=work, args=(size,)) for size in (2, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found[2] == [(2, 2), (2, 3), (3, 2)]
    assert found[5] == [(3, 5), (5, 3), (5, 5)]


def test_instrumented_functions_are_kept_in_a_bounded_cache() -> None:
    limit = twins._FUNCTIONS.limit
    decorated = [explain(file=io.StringIO())(make_function(index)) for index in range(limit + 5)]
    assert len(twins._FUNCTIONS) <= limit
    assert decorated[-1](np.ones(2)).tolist() == [2.0, 2.0]


def make_function(index: int) -> types.FunctionType:
    """A new function with its own code object each time (as code made per step would be)."""

    def double(x: np.ndarray) -> np.ndarray:
        return x * 2 + index * 0

    double.__code__ = double.__code__.replace(co_consts=(*double.__code__.co_consts, index))
    return double


def test_no_module_shares_a_name_with_a_function_it_exports() -> None:
    package = tensorsight.debugger
    for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        module = importlib.import_module(info.name)
        short = info.name.rsplit(".", 1)[-1]
        same_name = getattr(module, short, None)
        assert short not in getattr(module, "__all__", ()), f"{info.name} exports {short}"
        assert getattr(same_name, "__module__", None) != info.name, f"{info.name} defines {short}"
    for name in package.__all__:
        assert callable(getattr(package, name)) and not isinstance(
            getattr(package, name), types.ModuleType
        )


def test_one_answer_to_whose_code_this_is() -> None:
    assert is_library("numpy.linalg", "/site-packages/numpy/linalg/_linalg.py")
    assert is_library("json.decoder", np.__file__)  # a file of an installed package
    assert not is_library("__main__", "<stdin>")
    assert not is_library("case", "/tmp/case.py")
    assert is_user_function(make_function)
    assert not is_user_function(importlib.import_module("json").dumps)  # the standard library

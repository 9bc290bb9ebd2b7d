"""The examples in the debugger's docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tensorsight.debugger.clarification",
    "tensorsight.debugger.clarify",
    "tensorsight.debugger.diagram",
    "tensorsight.debugger.operands",
    "tensorsight.debugger.rules",
    "tensorsight.debugger.source",
    "tensorsight.debugger.torch_record",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith("torch_record"):
        pytest.importorskip("torch")
    # the examples play the user's code: frames of tensorsight's own modules count as library
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"__name__": "__main__"},
                             optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0

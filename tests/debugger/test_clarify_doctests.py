"""The examples in the debugger's docstrings run and say what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tensorsight.debugger.arrays",
    "tensorsight.debugger.bounded",
    "tensorsight.debugger.clarifying.block",
    "tensorsight.debugger.clarifying.dispatch",
    "tensorsight.debugger.clarifying.messages",
    "tensorsight.debugger.clarifying.note",
    "tensorsight.debugger.clarifying.operands",
    "tensorsight.debugger.clarifying.phrases",
    "tensorsight.debugger.clarifying.shapes",
    "tensorsight.debugger.clarifying.strict",
    "tensorsight.debugger.clarifying.torch_record",
    "tensorsight.debugger.frames.code",
    "tensorsight.debugger.frames.site",
    "tensorsight.debugger.frames.source",
    "tensorsight.debugger.frames.spans",
    "tensorsight.debugger.frames.values",
    "tensorsight.debugger.render.diagram",
    "tensorsight.debugger.render.svg",
    "tensorsight.debugger.tracing.explanation",
    "tensorsight.debugger.tracing.infos",
    "tensorsight.debugger.tracing.records",
    "tensorsight.debugger.tracing.rewrite",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith("torch_record"):
        pytest.importorskip("torch")
    # the examples play the user's code: frames of tensorsight's own modules count as library
    module = importlib.import_module(name)
    result = doctest.testmod(
        module, extraglobs={"__name__": "__main__"}, optionflags=doctest.ELLIPSIS
    )
    assert result.failed == 0
    assert result.attempted > 0

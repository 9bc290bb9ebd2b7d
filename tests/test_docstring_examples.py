"""Every docstring example in tensorsight runs as shown (``doctest``), except in the modules below
whose examples need a browser, a notebook or a running server; examples that need a dataset,
minutes of training or a GPU are marked ``# doctest: +SKIP`` where they stand."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tensorsight

pytest.importorskip("torch")

# Their examples serve pages or drive a notebook widget: the server and browser tests cover them.
NEEDS_A_SERVER_OR_BROWSER = frozenset(
    (
        "tensorsight.server",
        "tensorsight.server.app",
        "tensorsight.jupyter",
        "tensorsight.jupyter.comm",
        "tensorsight.jupyter.widget",
    )
)
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages(tensorsight.__path__, "tensorsight.")
    if info.name not in NEEDS_A_SERVER_OR_BROWSER
)


def test_the_modules_left_out_exist() -> None:
    every = {info.name for info in pkgutil.walk_packages(tensorsight.__path__, "tensorsight.")}
    assert every >= NEEDS_A_SERVER_OR_BROWSER


@pytest.mark.parametrize("name", ["tensorsight", *MODULES])
def test_docstring_examples(name: str) -> None:
    # The examples play the user's code: the debugger explains frames of __main__, not a library's.
    result = doctest.testmod(
        importlib.import_module(name),
        extraglobs={"__name__": "__main__"},
        optionflags=doctest.ELLIPSIS,
        report=True,
    )
    assert result.failed == 0

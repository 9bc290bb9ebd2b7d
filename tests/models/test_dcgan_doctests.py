"""The examples in the DCGAN, transposed-convolution and latent-run docstrings run as shown."""

from __future__ import annotations

import doctest
import importlib

import pytest

pytest.importorskip("torch")

MODULES = [
    "tensorsight.models.dcgan",
    "tensorsight.explanation.upmaths",
    "tensorsight.explanation.latent",
    "tensorsight.training.gan",
    "tensorsight.training.gan_quality",
    "tensorsight.protocol.latent",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0

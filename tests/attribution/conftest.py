"""Models and inputs shared by the attribution tests: the shipped TinyVGG and its samples."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from tensorsight.models import ModelBundle, load_model


@pytest.fixture(scope="session")
def tinyvgg() -> ModelBundle:
    """The shipped, trained TinyVGG (Fashion-MNIST)."""
    return load_model("tinyvgg")


@pytest.fixture(scope="session")
def tinyvgg_inputs(tinyvgg: ModelBundle) -> list[torch.Tensor]:
    """Six of its shipped sample images as model inputs, one per class."""
    samples = tinyvgg.samples[::4][:6]
    return [tinyvgg.preprocessing.to_tensor(Image.open(sample.path)) for sample in samples]

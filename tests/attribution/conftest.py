"""Models and inputs shared by the attribution tests: the shipped TinyVGG and its samples."""

from __future__ import annotations

import numpy as np
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


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps (ties share their mean rank; 0 for a flat map)."""
    ranks_a, ranks_b = _ranks(a.ravel()), _ranks(b.ravel())
    if ranks_a.std() == 0 or ranks_b.std() == 0:
        return 0.0
    return float(np.corrcoef(ranks_a, ranks_b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(len(values))
    _, inverse = np.unique(values, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return sums[inverse] / counts[inverse]

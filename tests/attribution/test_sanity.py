"""Adebayo et al. 2018's model-randomisation check: a map must change when the weights do.

Every layer of the trained TinyVGG is re-initialised (torch's own initialisation, seeded); the
maps of the randomised model for the same images and classes must rank pixels differently
(Spearman rank correlation of the maps below 0.5). Integrated gradients is compared signed, as
its map is: its magnitude alone follows the input image for any weights (the paper's finding
for gradient x input), which is what the check is about.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tensorsight.attribution import attribute


@pytest.fixture(scope="module")
def randomised(tinyvgg):
    model = copy.deepcopy(tinyvgg.model)
    torch.manual_seed(1)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model.eval()


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("saliency", {}),
        # TinyVGG ends in flatten + dense, not global pooling: the spatially averaged gradients
        # nearly cancel, and Grad-CAM keeps something only at the last convolution.
        ("gradcam", {"layer": "conv_2_2"}),
        ("gradcam++", {}),
        ("integrated_gradients", {"steps": 32}),
    ],
)
def test_maps_of_a_randomised_model_differ(tinyvgg, tinyvgg_inputs, randomised, method, options):
    correlations = []
    for x in tinyvgg_inputs:
        trained = attribute(tinyvgg.model, x, method, **options)
        random = attribute(randomised, x, method, target=trained.target, **options)
        assert np.abs(trained.map).max() > 0  # the trained model's map is not flat
        correlations.append(spearman(trained.map, random.map))
    assert max(correlations) < 0.5, correlations


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

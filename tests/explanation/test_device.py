"""The numbers shown for a model on a GPU equal the CPU's to float32 tolerance (needs CUDA)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from architectures import build
from tensorsight.explanation import Explainer
from tensorsight.imaging import Preprocessing

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize(("family", "size", "channels"), [("tinyvgg", 64, 1), ("resnet", 32, 3)])
def test_cuda_and_cpu_show_the_same_numbers(family: str, size: int, channels: int) -> None:
    model, _ = build(family)
    sessions = [
        Explainer(
            copy.deepcopy(model).to(device),
            preprocessing=Preprocessing(size=(size, size), channels=channels),
            class_names=[str(index) for index in range(10)],
            name=family,
        )
        for device in ("cpu", "cuda")
    ]
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    cpu, cuda = (session.run_image(Image.fromarray(pixels)) for session in sessions)
    assert cpu["run_id"] == cuda["run_id"]  # same weights, same input: the same run
    np.testing.assert_allclose(
        cuda["output"]["probabilities"], cpu["output"]["probabilities"], rtol=1e-4, atol=1e-6
    )
    nodes = [node["id"] for node in sessions[0].model_info()["nodes"]]
    (_, on_cpu), (_, on_cuda) = (
        session.activations(cpu["run_id"], nodes, encoding="f32") for session in sessions
    )
    for node in nodes:
        np.testing.assert_allclose(on_cuda[node], on_cpu[node], rtol=1e-4, atol=1e-5)

"""TinyVGG's architecture: CNN Explainer's layer names, shapes and parameter count, and (when
../shared is present) the anchor's own weights reproducing the CNN Explainer page's logits."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tensorsight.models.tinyvgg import TinyVGG

ANCHOR = Path(__file__).parents[2] / ".." / "shared" / "reference" / "cnn-explainer"
LAYER_NAMES = [
    "conv_1_1",
    "relu_1_1",
    "conv_1_2",
    "relu_1_2",
    "max_pool_1",
    "conv_2_1",
    "relu_2_1",
    "conv_2_2",
    "relu_2_2",
    "max_pool_2",
    "flatten",
    "output",
]


def test_layers_have_cnn_explainer_names_in_order() -> None:
    model = TinyVGG()
    assert [name for name, _ in model.named_children()] == LAYER_NAMES
    assert all(
        model.get_submodule(name).kernel_size == (3, 3)
        and model.get_submodule(name).padding == (0, 0)
        for name in LAYER_NAMES
        if name.startswith("conv")
    )


def test_parameter_count_matches_cnn_explainer() -> None:
    model = TinyVGG(in_channels=3, input_size=64, num_classes=10)
    # 280 + 3 x 910 for the convolutions, 1690 x 10 + 10 for the output layer
    assert sum(p.numel() for p in model.parameters()) == 19_920


def test_feature_map_shapes_at_64_pixels() -> None:
    model = TinyVGG(in_channels=1, input_size=64)
    shapes = {}
    x = torch.zeros(2, 1, 64, 64)
    for name, layer in model.named_children():
        x = layer(x)
        shapes[name] = tuple(x.shape[1:])
    assert shapes["conv_1_1"] == (10, 62, 62)
    assert shapes["max_pool_1"] == (10, 30, 30)
    assert shapes["conv_2_2"] == (10, 26, 26)
    assert shapes["max_pool_2"] == (10, 13, 13)
    assert shapes["flatten"] == (1690,)
    assert shapes["output"] == (10,)


@pytest.mark.parametrize(("size", "features"), [(28, 160), (32, 250), ((48, 40), 10 * 9 * 7)])
def test_input_size_channels_and_classes_are_configurable(size, features) -> None:
    model = TinyVGG(in_channels=3, input_size=size, num_classes=4, filters=6)
    height, width = (size, size) if isinstance(size, int) else size
    assert model(torch.rand(1, 3, height, width)).shape == (1, 4)
    assert model.output.in_features == features * 6 // 10


def test_too_small_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16x16"):
        TinyVGG(input_size=12)


def test_architecture_round_trips() -> None:
    model = TinyVGG(in_channels=3, input_size=(40, 48), num_classes=5, filters=8)
    rebuilt = TinyVGG.from_architecture(json.loads(json.dumps(model.architecture())))
    assert rebuilt.architecture() == model.architecture()
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]


def _anchor_weights() -> dict[str, np.ndarray]:
    spec = importlib.util.spec_from_file_location(
        "read_tfjs_weights", ANCHOR / "read_tfjs_weights.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.load_tfjs_weights(ANCHOR / "model.json")


@pytest.mark.skipif(not ANCHOR.is_dir(), reason="../shared/reference/cnn-explainer is absent")
def test_anchor_weights_reproduce_the_cnn_explainer_page() -> None:
    weights = _anchor_weights()
    model = TinyVGG(in_channels=3, input_size=64, num_classes=10).eval()
    state = {}
    for name in LAYER_NAMES:
        if name.startswith("conv"):
            # Keras kernels are (kh, kw, in, out); PyTorch wants (out, in, kh, kw)
            state[f"{name}.weight"] = weights[f"{name}/kernel"].transpose(3, 2, 0, 1)
            state[f"{name}.bias"] = weights[f"{name}/bias"]
    # Keras flattens (row, column, channel); our flatten is (channel, row, column)
    kernel = weights["output/kernel"].reshape(13, 13, 10, 10).transpose(2, 0, 1, 3)
    state["output.weight"] = kernel.reshape(1690, 10).T
    state["output.bias"] = weights["output/bias"]
    model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()})

    browser = json.loads((ANCHOR / "browser_outputs.json").read_text())["images"]
    assert len(browser) == 10
    for file_name, expected in browser.items():
        image = Image.open(ANCHOR / "images" / file_name).convert("RGB")
        x = torch.from_numpy(np.asarray(image, np.float32) / 255).permute(2, 0, 1)[None]
        with torch.no_grad():
            logits = model(x)[0].double().numpy()
        np.testing.assert_allclose(logits, expected["logits"], atol=1e-4, err_msg=file_name)
        np.testing.assert_allclose(
            np.exp(logits) / np.exp(logits).sum(),
            expected["probabilities"],
            atol=1e-5,
            err_msg=file_name,
        )

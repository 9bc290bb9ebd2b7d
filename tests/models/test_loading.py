"""load_model: built-in names, user factories, weights files, model cards and every error path."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from safetensors.torch import save_file  # noqa: E402
from torch import nn  # noqa: E402

from tensorsight.imaging import Preprocessing  # noqa: E402
from tensorsight.models import ModelBundle, ModelLoadError, bundle_from_module, load_model  # noqa: E402
from tensorsight.models.tinyvgg import TinyVGG  # noqa: E402

_module_numbers = itertools.count()

SMALL_NET = """
import torch
from torch import nn

def build():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(4, 3))
"""


def write_module(folder: Path, source: str) -> str:
    """A uniquely named module in ``folder`` (importable once it is on sys.path); its name."""
    name = f"user_net_{next(_module_numbers)}"
    (folder / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.syspath_prepend(str(tmp_path))
    return write_module(tmp_path, SMALL_NET)


def small_net() -> nn.Module:
    namespace: dict = {}
    exec(SMALL_NET, namespace)
    return namespace["build"]()


def test_unknown_name_says_what_is_accepted() -> None:
    with pytest.raises(ModelLoadError, match=r"Unknown model 'resnet': use tinyvgg, mobilenet_v2"):
        load_model("resnet")


def test_factory_builds_an_eval_mode_bundle(user_module: str) -> None:
    bundle = load_model(f"{user_module}:build", input_size=(32, 32))
    assert isinstance(bundle, ModelBundle)
    assert bundle.name == f"{user_module}:build"
    assert not bundle.model.training
    assert bundle.class_names == ("class 0", "class 1", "class 2")
    assert bundle.preprocessing == Preprocessing(size=(32, 32), channels=1)


def test_factory_defaults_to_224_pixels(user_module: str) -> None:
    assert load_model(f"{user_module}:build").preprocessing.size == (224, 224)


def test_factory_from_a_python_file(tmp_path: Path) -> None:
    path = tmp_path / "net_file.py"
    # A dataclass needs its module in sys.modules while the file runs.
    path.write_text(
        SMALL_NET + "\nfrom dataclasses import dataclass\n\n@dataclass\n"
        "class Config:\n    depth: int = 2\n",
        encoding="utf-8",
    )
    bundle = load_model(f"{path}:build", class_names=["a", "b", "c"])
    assert bundle.class_names == ("a", "b", "c")


def test_module_that_cannot_be_imported() -> None:
    expected = r"Cannot import 'no_such_package_xyz\.nets': No module named"
    with pytest.raises(ModelLoadError, match=expected) as caught:
        load_model("no_such_package_xyz.nets:build")
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_module_that_fails_while_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, "raise RuntimeError('no GPU here')\n")
    with pytest.raises(ModelLoadError, match="failed with RuntimeError: no GPU here"):
        load_model(f"{name}:build")


def test_missing_factory_lists_what_the_module_defines(user_module: str) -> None:
    with pytest.raises(ModelLoadError, match=r"has no 'make'\. It defines: build"):
        load_model(f"{user_module}:make")


def test_factory_that_raises_is_chained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, "def build():\n    raise ValueError('depth must be > 0')\n")
    with pytest.raises(
        ModelLoadError, match=r"build\(\) raised ValueError: depth must be > 0"
    ) as caught:
        load_model(f"{name}:build")
    assert isinstance(caught.value.__cause__, ValueError)


def test_factory_returning_something_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, "def build():\n    return {'not': 'a model'}\n")
    with pytest.raises(ModelLoadError, match=r"returned a dict, not a torch\.nn\.Module"):
        load_model(f"{name}:build")


def test_safetensors_weights_are_loaded(user_module: str, tmp_path: Path) -> None:
    trained = small_net()
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.add_(1.5)  # differ from what the factory builds
    path = tmp_path / "net.safetensors"
    save_file(trained.state_dict(), path)
    bundle = load_model(f"{user_module}:build", weights=path, input_size=(16, 16))
    for key, value in trained.state_dict().items():
        assert torch.equal(bundle.model.state_dict()[key], value), key


def test_card_next_to_the_weights(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "net.safetensors"
    save_file(small_net().state_dict(), path)
    card = {
        "name": "Shapes net",
        "class_names": ["circle", "square", "star"],
        "preprocessing": Preprocessing(
            size=(40, 48), channels=1, mean=(0.5,), std=(0.25,)
        ).to_dict(),
    }
    (tmp_path / "net.safetensors.json").write_text(json.dumps(card), encoding="utf-8")
    bundle = load_model(f"{user_module}:build", weights=path)
    assert bundle.name == "Shapes net"
    assert bundle.class_names == ("circle", "square", "star")
    assert bundle.preprocessing.size == (40, 48)
    assert tuple(bundle.preprocessing.mean) == (0.5,)
    assert bundle.card["class_names"] == card["class_names"]


def test_card_json_in_the_folder_and_input_size(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file(small_net().state_dict(), path)
    (tmp_path / "card.json").write_text(json.dumps({"input_size": [20, 30]}), encoding="utf-8")
    assert load_model(f"{user_module}:build", weights=path).preprocessing.size == (20, 30)


def test_unreadable_card(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    save_file(small_net().state_dict(), path)
    (tmp_path / "card.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelLoadError, match="Cannot read the model card"):
        load_model(f"{user_module}:build", weights=path)


@pytest.mark.parametrize("card", [{"input_size": 224}, {"preprocessing": {"channels": 3}}])
def test_card_with_unusable_sizes(user_module: str, tmp_path: Path, card: dict) -> None:
    path = tmp_path / "weights.safetensors"
    save_file(small_net().state_dict(), path)
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="preprocessing or input_size is unusable"):
        load_model(f"{user_module}:build", weights=path)


def test_pickle_needs_the_flag(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "net.pth"
    torch.save(small_net().state_dict(), path)
    with pytest.raises(ModelLoadError, match=r"net\.pth is a torch pickle file.*--trust-pickle"):
        load_model(f"{user_module}:build", weights=path)


def test_trusted_pickle_checkpoint_with_dataparallel_prefix(
    user_module: str, tmp_path: Path
) -> None:
    trained = small_net()
    with torch.no_grad():
        trained[0].weight.fill_(0.25)
    path = tmp_path / "checkpoint.pt"
    torch.save(
        {
            "epoch": 3,
            "state_dict": {f"module.{key}": value for key, value in trained.state_dict().items()},
        },
        path,
    )
    bundle = load_model(f"{user_module}:build", weights=path, trust_pickle=True)
    assert torch.equal(bundle.model[0].weight, trained[0].weight)


def test_pickled_model_object_is_refused_even_when_trusted(
    user_module: str, tmp_path: Path
) -> None:
    path = tmp_path / "whole_model.pt"
    torch.save(small_net(), path)
    with pytest.raises(ModelLoadError, match=r"plain tensors.*state_dict\(\)"):
        load_model(f"{user_module}:build", weights=path, trust_pickle=True)


def test_missing_weights_file(user_module: str, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"nope\.safetensors does not exist"):
        load_model(f"{user_module}:build", weights=tmp_path / "nope.safetensors")


def test_unknown_weights_format(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.h5"
    path.write_bytes(b"HDF")
    with pytest.raises(ModelLoadError, match=r"Cannot tell the format.*\.safetensors"):
        load_model(f"{user_module}:build", weights=path)


def test_corrupt_safetensors(user_module: str, tmp_path: Path) -> None:
    path = tmp_path / "weights.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{garbage}")
    with pytest.raises(ModelLoadError, match=r"Cannot read .* as safetensors"):
        load_model(f"{user_module}:build", weights=path)


def test_weights_that_do_not_fit_are_listed(user_module: str, tmp_path: Path) -> None:
    state = small_net().state_dict()
    state["0.weight"] = torch.zeros(4, 3, 3, 3)  # made for RGB input
    del state["4.bias"]
    state["5.weight"] = torch.zeros(1)
    path = tmp_path / "other.safetensors"
    save_file(state, path)
    with pytest.raises(ModelLoadError) as caught:
        load_model(f"{user_module}:build", weights=path)
    message = str(caught.value)
    assert "do not fit Sequential" in message
    assert "1 missing key (4.bias)" in message
    assert "1 unexpected key (5.weight)" in message
    assert "1 shape mismatch (0.weight (file [4, 3, 3, 3], model [4, 1, 3, 3]))" in message


def test_long_key_lists_are_shortened(tmp_path: Path) -> None:
    model = nn.Sequential(*[nn.Linear(2, 2) for _ in range(5)])
    path = tmp_path / "empty.safetensors"
    save_file({"unrelated": torch.zeros(1)}, path)
    with pytest.raises(
        ModelLoadError,
        match=r"10 missing keys \(0\.weight, 0\.bias, 1\.weight "
        r"and 7 more\)",
    ):
        from tensorsight.models.loading import load_weights

        load_weights(model, path)


def test_class_names_must_match_the_outputs(user_module: str) -> None:
    with pytest.raises(ModelLoadError, match="has 3 outputs but 2 class names were given"):
        load_model(f"{user_module}:build", class_names=["a", "b"])


def test_input_the_model_cannot_take() -> None:
    with pytest.raises(ModelLoadError, match=r"fails on a 1x1x8x8 input.*--input-size") as caught:
        bundle_from_module(TinyVGG(), input_size=(8, 8))
    assert caught.value.__cause__ is not None


def test_model_that_returns_neither_scores_nor_an_image() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"class scores \[batch, classes\] or an image.*"
        r"shape \[192\]\.",
    ):
        bundle_from_module(nn.Flatten(0), input_size=(8, 8))


def test_bundle_from_module_reads_input_size_and_channels() -> None:
    bundle = bundle_from_module(TinyVGG(in_channels=3, input_size=(40, 48), num_classes=4))
    assert bundle.preprocessing == Preprocessing(size=(40, 48), channels=3)
    assert bundle.name == "TinyVGG"
    assert len(bundle.class_names) == 4


def test_tinyvgg_from_weights_and_card(tmp_path: Path) -> None:
    torch.manual_seed(3)
    model = TinyVGG(in_channels=1, input_size=32, num_classes=4).eval()
    save_file(model.state_dict(), tmp_path / "weights.safetensors")
    card = {
        "architecture": model.architecture(),
        "class_names": ["w", "x", "y", "z"],
        "preprocessing": Preprocessing(size=(32, 32), channels=1).to_dict(),
    }
    (tmp_path / "card.json").write_text(json.dumps(card), encoding="utf-8")
    bundle = load_model("tinyvgg", weights=tmp_path / "weights.safetensors")
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(bundle.model(x), model(x))
    assert bundle.class_names == ("w", "x", "y", "z")


def test_tinyvgg_is_the_shipped_default() -> None:
    from tensorsight.models import tinyvgg

    if not (tinyvgg.DEFAULT_BUNDLE_DIR / tinyvgg.WEIGHTS_FILE).is_file():
        pytest.skip("the default TinyVGG bundle has not been trained into the package yet")
    shipped = tinyvgg.load_default()
    bundle = load_model("tinyvgg")
    assert bundle.class_names == shipped.class_names
    assert bundle.preprocessing == shipped.preprocessing
    assert [sample.id for sample in bundle.samples] == [sample.id for sample in shipped.samples]
    x = torch.rand(1, shipped.preprocessing.channels, *shipped.preprocessing.size)
    assert torch.equal(bundle.model(x), shipped.model(x))


def test_a_damaged_default_bundle_is_a_load_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tensorsight.models import tinyvgg

    monkeypatch.setattr(tinyvgg, "DEFAULT_BUNDLE_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match=r"TinyVGG shipped in .* cannot be loaded"):
        load_model("tinyvgg")


def test_importing_tensorsight_does_not_import_models_or_torch() -> None:
    code = (
        "import sys, tensorsight; "
        "print('tensorsight.models' in sys.modules, 'torch' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output == ["False", "False"]


def test_models_package_imports_without_torch_until_a_model_is_built() -> None:
    code = (
        "import sys; from tensorsight.models import load_model, ModelLoadError; "
        "print('torch' in sys.modules)"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert output == ["False"]


SEGMENTER = """
from torch import nn

def build():
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
"""


def test_image_output_model_loads_without_classes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, SEGMENTER)
    bundle = load_model(f"{name}:build", input_size=(16, 16))
    assert bundle.class_names == ()
    with pytest.raises(ModelLoadError, match="returns an image, not class scores"):
        load_model(f"{name}:build", input_size=(16, 16), class_names=["a", "b"])

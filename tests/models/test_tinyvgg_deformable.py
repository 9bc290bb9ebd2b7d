"""DeformableTinyVGG: it starts as the plain TinyVGG, trains with ``--deformable``, and the
shipped ``tinyvgg-deformable`` bundle loads offline with learned offsets and an honest card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tensorsight.cli import main
from tensorsight.data import DEFAULT_FASHION_MNIST_DIR, read_fashion_mnist
from tensorsight.models import load_model
from tensorsight.models.tinyvgg import DEFAULT_BUNDLE_DIR, TinyVGG, load_bundle
from tensorsight.models.tinyvgg_deformable import (
    DEFORMABLE_BUNDLE_DIR,
    DeformableTinyVGG,
    build_tinyvgg,
)
from tensorsight.ops import DeformConv2d
from tensorsight.training import TrainConfig, evaluate, train

FASHION = Path(__file__).parents[1] / "fixtures" / "fashion_mnist"


def test_zero_offsets_compute_exactly_the_plain_tinyvgg() -> None:
    torch.manual_seed(0)
    plain = TinyVGG().eval()
    deformable = DeformableTinyVGG().eval()
    deformable.load_plain_weights(plain.state_dict())
    x = torch.rand(3, 1, 64, 64)
    with torch.no_grad():
        assert torch.allclose(deformable(x), plain(x), atol=1e-5)
    assert isinstance(deformable.conv_2_2, DeformConv2d)
    assert deformable.conv_2_2_offset.out_channels == 18
    assert set(deformable.state_dict()) - set(plain.state_dict()) == {
        "conv_2_1_offset.weight",
        "conv_2_1_offset.bias",
        "conv_2_2_offset.weight",
        "conv_2_2_offset.bias",
    }


def test_plain_weights_of_another_shape_are_refused() -> None:
    with pytest.raises(RuntimeError, match="size mismatch"):
        DeformableTinyVGG().load_plain_weights(TinyVGG(filters=8).state_dict())
    with pytest.raises(ValueError, match="deformable_layers must be 1 to 4"):
        DeformableTinyVGG(deformable_layers=0)


def test_architecture_round_trips_through_a_card() -> None:
    model = DeformableTinyVGG(in_channels=3, input_size=(40, 48), deformable_layers=3)
    rebuilt = build_tinyvgg(json.loads(json.dumps(model.architecture())))
    assert isinstance(rebuilt, DeformableTinyVGG)
    assert rebuilt.deformable_names() == ("conv_1_2", "conv_2_1", "conv_2_2")
    assert type(build_tinyvgg(TinyVGG().architecture())) is TinyVGG


def test_train_deformable_fine_tunes_a_plain_run(tmp_path: Path) -> None:
    settings = {
        "data_dir": FASHION,
        "input_size": 28,
        "batch_size": 32,
        "progress": False,
        "samples_per_class": 1,
    }
    plain = train(TrainConfig(output=tmp_path / "plain", epochs=1, **settings))
    result = train(
        TrainConfig(
            output=tmp_path / "deformable",
            epochs=1,
            deformable=True,
            initial_weights=tmp_path / "plain" / "weights.safetensors",
            **settings,
        )
    )
    card = result.card
    assert card["architecture"]["name"] == "DeformableTinyVGG"
    assert card["metrics"]["baseline"]["test_accuracy"] == plain.card["metrics"]["test_accuracy"]
    assert card["training"]["freeze_before_deformable"] is True
    weights = load_file(tmp_path / "deformable" / "weights.safetensors")
    before = load_file(tmp_path / "plain" / "weights.safetensors")
    assert torch.equal(weights["conv_1_1.weight"], before["conv_1_1.weight"])  # frozen
    assert not torch.equal(weights["conv_2_2.weight"], before["conv_2_2.weight"])
    assert weights["conv_2_2_offset.weight"].abs().max() > 0  # the offsets learned something
    reloaded = load_bundle(tmp_path / "deformable")
    assert isinstance(reloaded.model, DeformableTinyVGG)


def test_command_line_deformable_flag(tmp_path: Path, capsys) -> None:
    code = main(
        [
            "train",
            "--deformable",
            "--data-dir",
            str(FASHION),
            "--output",
            str(tmp_path),
            "--input-size",
            "28",
            "--limit",
            "64",
            "--quiet",
        ]
    )
    assert code == 0
    card = json.loads((tmp_path / "card.json").read_text())
    # the shipped TinyVGG is 64x64: a 28x28 run cannot start from it and trains from scratch
    assert card["architecture"]["deformable_layers"] == 2
    assert card["training"]["epochs"] == 1 and "initialised_from" not in card["training"]
    assert card["training"]["offset_learning_rate_scale"] == 10
    assert "test accuracy" in capsys.readouterr().out


def test_the_offsets_learn_at_their_own_rate(tmp_path: Path) -> None:
    """At a scale of 0 the offsets stay at zero while the deformable weights still learn."""
    settings = {"data_dir": FASHION, "input_size": 28, "limit": 256, "progress": False}
    result = train(
        TrainConfig(
            output=tmp_path,
            deformable=True,
            batch_size=32,
            offset_learning_rate_scale=0.0,
            samples_per_class=1,
            **settings,
        )
    )
    weights = load_file(tmp_path / "weights.safetensors")
    offsets = [name for name in weights if "_offset." in name]
    assert offsets and all(not weights[name].any() for name in offsets)
    assert weights["conv_2_2.weight"].abs().max() > 0
    assert result.card["training"]["offset_learning_rate_scale"] == 0.0


def test_shipped_bundle_loads_offline_with_learned_offsets() -> None:
    bundle = load_model("tinyvgg-deformable")
    model = bundle.model
    assert isinstance(model, DeformableTinyVGG)
    assert bundle.class_names[-1] == "Ankle boot" and len(bundle.samples) == 20
    assert model.conv_2_1_offset.weight.abs().max() > 0
    card = bundle.card
    plain_card = json.loads((DEFAULT_BUNDLE_DIR / "card.json").read_text())
    assert card["metrics"]["baseline"]["test_accuracy"] == plain_card["metrics"]["test_accuracy"]
    assert card["training"]["initialised_from"]["sha256"] == plain_card["weights"]["sha256"]
    assert (DEFORMABLE_BUNDLE_DIR / "weights.safetensors").is_file()


@pytest.mark.skipif(
    not (DEFAULT_FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="Fashion-MNIST is not installed",
)
def test_shipped_bundle_scores_what_its_card_says() -> None:
    bundle = load_model("tinyvgg-deformable")
    test_set = read_fashion_mnist("test")
    inputs = torch.from_numpy(test_set.to_inputs(bundle.preprocessing))
    metrics = evaluate(bundle.model, inputs, torch.from_numpy(test_set.labels), bundle.class_names)
    assert metrics["accuracy"] == pytest.approx(bundle.card["metrics"]["test_accuracy"], abs=2e-4)

"""DCGAN training on real Fashion-MNIST images: a tiny deterministic run, what it writes, the
Fréchet distance against an independent formula, loading the pair, and ``tensorsight
train-gan``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from tensorsight.cli import main
from tensorsight.models import load_model
from tensorsight.training import GanConfig, frechet_distance, train_gan

FIXTURES = Path(__file__).parents[1] / "fixtures"
FASHION = FIXTURES / "fashion_mnist"


def _config(output: Path, **changes) -> GanConfig:
    # 16x16, 4 filters, 8 latent numbers: a real DCGAN, small enough for a shared CPU.
    settings = {
        "data_dir": FASHION,
        "image_size": 16,
        "features": 4,
        "latent_dim": 8,
        "epochs": 2,
        "batch_size": 32,
        "limit": 128,
        "progress": False,
        "quality_samples": 200,
    }
    return GanConfig(output=output, **{**settings, **changes})


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):
    return train_gan(_config(tmp_path_factory.mktemp("gan")))


def _weights(run) -> dict[str, torch.Tensor]:
    return {
        **{f"g.{k}": v for k, v in load_file(run.output / "generator.safetensors").items()},
        **{f"d.{k}": v for k, v in load_file(run.output / "discriminator.safetensors").items()},
    }


def test_same_seed_gives_identical_weights_and_another_seed_does_not(trained, tmp_path) -> None:
    again = _weights(train_gan(_config(tmp_path / "again", measure_quality=False)))
    first = _weights(trained)
    assert first.keys() == again.keys()
    assert all(torch.equal(first[name], again[name]) for name in first)
    other = _weights(train_gan(_config(tmp_path / "other", seed=1, measure_quality=False)))
    assert not torch.equal(first["g.conv_t_1.weight"], other["g.conv_t_1.weight"])


def test_fewer_epochs_equal_the_checkpoint_a_longer_run_left(trained, tmp_path) -> None:
    # Each epoch leaves a loadable pair; nothing depends on the epoch count, so one epoch of a
    # fresh run is what the two-epoch run had after its first epoch (seen in its grids).
    short = train_gan(_config(tmp_path / "short", epochs=1, measure_quality=False))
    first_grid = (trained.output / "grids" / "epoch-01.png").read_bytes()
    assert (short.output / "grids" / "epoch-01.png").read_bytes() == first_grid
    assert short.card["training"]["epochs_completed"] == 1


def test_writes_both_networks_card_and_grids_and_no_pickle(trained) -> None:
    files = sorted(
        p.relative_to(trained.output).as_posix() for p in trained.output.rglob("*") if p.is_file()
    )
    assert files == [
        "card.json",
        "discriminator.safetensors",
        "generator.safetensors",
        "grids/epoch-01.png",
        "grids/epoch-02.png",
    ]
    card = json.loads((trained.output / "card.json").read_text())
    assert card["latent_dim"] == 8
    assert card["architecture"]["generator"] == {
        "name": "DCGAN generator",
        "latent_dim": 8,
        "features": 4,
        "channels": 1,
        "image_size": 16,
    }
    assert set(card["data"]["sha256"]) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert card["data"]["train_count"] == 128
    assert card["training"]["iterations"] == 2 * (128 // 32)
    assert card["training"]["training_seconds"] > 0
    assert len(card["training"]["history"]) == 2


def test_card_quality_has_distance_floor_ceiling_and_histogram(trained) -> None:
    quality = trained.card["quality"]
    assert quality["generated_samples"] == 200
    assert sum(quality["class_histogram"].values()) == 200
    assert len(quality["class_histogram"]) == 10
    assert 0 <= quality["floor_train_vs_test"] < quality["ceiling_untrained_generator"]
    assert quality["frechet_distance"] > 0
    assert quality["all_classes_at_least_3_percent"] == (quality["smallest_class_fraction"] >= 0.03)


@pytest.mark.parametrize(
    ("rows_a", "rows_b", "features"),
    [(500, 400, 6), (20, 30, 50)],
    ids=["more-rows-than-features", "fewer-rows-than-features"],
)
def test_frechet_distance_matches_the_eigenvalue_formula(rows_a, rows_b, features) -> None:
    rng = np.random.default_rng(0)
    a = rng.normal(size=(rows_a, features)) @ rng.normal(size=(features, features))
    b = rng.normal(size=(rows_b, features)) * 2 + 1
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # tr((S_a S_b)^1/2) is the sum of the square roots of the eigenvalues of S_a S_b.
    cross = np.sqrt(np.clip(np.linalg.eigvals(cov_a @ cov_b).real, 0, None)).sum()
    expected = np.sum((a.mean(0) - b.mean(0)) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * cross
    got = frechet_distance(torch.from_numpy(a), torch.from_numpy(b))
    assert got == pytest.approx(expected, rel=1e-6)
    assert frechet_distance(torch.from_numpy(a), torch.from_numpy(a)) == pytest.approx(0, abs=1e-6)


def test_the_trained_pair_loads_as_models(trained) -> None:
    generator = load_model("dcgan", weights=trained.output / "generator.safetensors")
    with torch.no_grad():
        images = generator.model(torch.randn(3, 8, 1, 1))
    assert images.shape == (3, 1, 16, 16)
    assert float(images.abs().max()) <= 1
    assert generator.critic is not None
    critic = load_model("dcgan-discriminator", weights=trained.output / "discriminator.safetensors")
    assert critic.class_names == ("real",)
    assert critic.model(images).shape == (3, 1)


def test_train_gan_command_on_an_image_folder(tmp_path, capsys) -> None:
    output = tmp_path / "folder-gan"
    code = main(
        [
            "train-gan",
            "--data",
            str(FIXTURES / "image_folder"),
            "--output",
            str(output),
            "--image-size",
            "16",
            "--features",
            "4",
            "--latent-dim",
            "8",
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--quiet",
        ]
    )
    assert code == 0
    card = json.loads((output / "card.json").read_text())
    assert card["architecture"]["generator"]["channels"] == 3
    assert card["quality"] is None  # no Fashion-MNIST classifier for someone's photos
    assert "written to" in capsys.readouterr().out


def test_train_gan_command_reports_missing_data(tmp_path, capsys) -> None:
    code = main(
        ["train-gan", "--data-dir", str(tmp_path), "--output", str(tmp_path / "x"), "--quiet"]
    )
    assert code == 1
    assert "Fashion-MNIST is not in" in capsys.readouterr().err

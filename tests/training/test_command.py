"""The one path ``tensorsight train`` and ``tensorsight train-gan`` share from parsed options to a
config and a training run (tensorsight.training._command)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tensorsight.data import DatasetError
from tensorsight.training import GanConfig, TrainConfig, gan_cli
from tensorsight.training import cli as train_cli
from tensorsight.training._command import train_from_args
from tensorsight.training.trainer import DEFORMABLE_DEFAULTS


def _parse(*words: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tensorsight")
    subparsers = parser.add_subparsers()
    train_cli.add_parser(subparsers)
    gan_cli.add_parser(subparsers)
    return parser.parse_args(list(words))


def _config_of(command: str, args: argparse.Namespace, **kwargs: object) -> object:
    module = train_cli if command == "train" else gan_cli
    make = TrainConfig if command == "train" else GanConfig
    return train_from_args(command, args, module._OPTIONS, make, lambda config: config, **kwargs)


def test_options_left_out_keep_the_config_defaults() -> None:
    assert _config_of("train", _parse("train", "-o", "out", "--quiet")) == TrainConfig(
        output="out", progress=False
    )
    assert _config_of("train-gan", _parse("train-gan")) == GanConfig(output="dcgan-run")


def test_given_options_override_defaults_and_fields_override_both() -> None:
    args = _parse("train", "--deformable", "--epochs", "3", "--no-augment", "--data", "photos/")
    config = _config_of(
        "train", args, defaults=DEFORMABLE_DEFAULTS, deformable=True, learning_rate=0.5
    )
    assert isinstance(config, TrainConfig)
    assert (config.epochs, config.learning_rate, config.augment) == (3, 0.5, False)
    assert (config.deformable, config.data, config.progress) == (True, "photos/", True)
    config = _config_of("train", args, defaults=DEFORMABLE_DEFAULTS)
    assert isinstance(config, TrainConfig)
    assert (config.epochs, config.learning_rate) == (3, DEFORMABLE_DEFAULTS["learning_rate"])


def test_every_listed_option_is_a_config_field() -> None:
    for module, config in ((train_cli, TrainConfig), (gan_cli, GanConfig)):
        assert set(module._OPTIONS) <= set(config.__dataclass_fields__)


@pytest.mark.parametrize("command", ["train", "train-gan"])
def test_a_dataset_error_is_one_line_named_after_the_command(
    command: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    def fail(config: object) -> object:
        raise DatasetError(f"{tmp_path}/broken.png is not an image")

    module = train_cli if command == "train" else gan_cli
    make = TrainConfig if command == "train" else GanConfig
    args = _parse(command, "--data", str(tmp_path))
    assert train_from_args(command, args, module._OPTIONS, make, fail) is None
    assert (
        capsys.readouterr().err == f"tensorsight {command}: {tmp_path}/broken.png is not an image\n"
    )


def test_both_commands_read_data_output_and_epochs_alike() -> None:
    for command, output in (("train", "tinyvgg-run"), ("train-gan", "dcgan-run")):
        args = _parse(command)
        assert (args.data, args.data_dir, args.output, args.epochs) == (
            "fashion-mnist",
            None,
            output,
            None,
        )
        args = _parse(command, "--data", "d/", "--data-dir", "f/", "-o", "o/", "--epochs", "2")
        assert (args.data, args.data_dir, args.output, args.epochs) == ("d/", "f/", "o/", 2)


@pytest.mark.parametrize(
    ("command", "option", "value"),
    [
        ("train", "--epochs", "0"),
        ("train", "--batch-size", "0"),
        ("train", "--learning-rate", "-1"),
        ("train", "--label-smoothing", "1"),
        ("train", "--offset-lr-scale", "nan"),
        ("train", "--limit", "x"),
        ("train", "--threads", "0"),
        ("train-gan", "--learning-rate", "0"),
        ("train-gan", "--latent-dim", "-3"),
        ("train-gan", "--epochs", "inf"),
    ],
)
def test_a_number_out_of_range_is_a_usage_error_not_a_traceback(
    command: str, option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        _parse(command, option, value)
    assert stop.value.code == 2
    assert f"argument {option}: must be" in capsys.readouterr().err

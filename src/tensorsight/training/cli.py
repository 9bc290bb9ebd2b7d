"""``tensorsight train``: train TinyVGG on Fashion-MNIST or a folder of photos from the shell.

tensorsight train --output runs/fashion
tensorsight train --data my-photos/ --input-size 64 --epochs 30 --output runs/photos
"""

from __future__ import annotations

import argparse
import sys

from tensorsight.devices import DeviceError, add_device_option, describe_device, resolve_device
from tensorsight.training._command import (
    add_data_options,
    fraction,
    non_negative_float,
    positive_float,
    positive_int,
)

_DEFAULT_OUTPUT = "tinyvgg-run"
# The options that, when given, override TrainConfig's defaults (DEFORMABLE_DEFAULTS too).
_OPTIONS = (
    "epochs",
    "input_size",
    "channels",
    "batch_size",
    "learning_rate",
    "label_smoothing",
    "augment",
    "seed",
    "limit",
    "threads",
    "deformable_layers",
    "initial_weights",
    "offset_learning_rate_scale",
)


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``train`` on the top-level parser's sub-parsers and set its ``handler``."""
    parser = subparsers.add_parser(
        "train",
        help="train TinyVGG on Fashion-MNIST or your own photos",
        description="Train TinyVGG and write weights.safetensors, card.json (architecture, "
        "classes, preprocessing, test accuracy, confusion matrix, data checksum, time) and "
        "samples/*.png into --output.",
    )
    add_data_options(
        parser,
        data_help="'fashion-mnist' (default) or a folder with one sub-folder of images per class",
        output_default=_DEFAULT_OUTPUT,
        output_help="folder to write the model into",
    )
    parser.add_argument(
        "--input-size",
        type=positive_int,
        default=None,
        help="side of the square model input in pixels (default: 64)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="1 = grayscale, 3 = RGB (default: 1 for Fashion-MNIST, else 3)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument(
        "--learning-rate",
        type=positive_float,
        default=None,
        help="peak learning rate of the one-cycle schedule",
    )
    parser.add_argument("--label-smoothing", type=fraction, default=None)
    parser.add_argument(
        "--no-augment",
        dest="augment",
        action="store_false",
        default=None,
        help="train without random shifts, zooms and flips",
    )
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="train on only this many images (a quick check)",
    )
    parser.add_argument(
        "--deformable",
        action="store_true",
        help="make the last convolutions deformable and fine-tune the shipped "
        "TinyVGG (default 1 epoch, learning rate 0.002, offsets at 10x)",
    )
    parser.add_argument(
        "--deformable-layers",
        type=int,
        default=None,
        help="how many of the last convolutions become deformable (default: 2)",
    )
    parser.add_argument(
        "--initial-weights",
        default=None,
        help="plain TinyVGG safetensors to start --deformable from (default: the shipped TinyVGG)",
    )
    parser.add_argument(
        "--offset-lr-scale",
        dest="offset_learning_rate_scale",
        type=non_negative_float,
        default=None,
        help="with --deformable: how much faster than the weights the offsets learn (default: 10)",
    )
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    add_device_option(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Train as the parsed ``args`` say; print where the model went and its test accuracy."""
    from tensorsight.training._command import train_from_args
    from tensorsight.training.trainer import DEFORMABLE_DEFAULTS, TrainConfig, train

    try:
        device = resolve_device(args.device)
    except DeviceError as error:
        print(f"tensorsight train: error: --{error}", file=sys.stderr)
        return 2
    print(f"tensorsight train: training on {describe_device(device)}", flush=True)

    result = train_from_args(
        "train",
        args,
        _OPTIONS,
        TrainConfig,
        train,
        defaults=DEFORMABLE_DEFAULTS if args.deformable else None,
        device=device,
        deformable=args.deformable,
    )
    if result is None:
        return 1
    metrics = result.card["metrics"]
    print(
        f"test accuracy {metrics['test_accuracy']:.4f} on {metrics['test_count']} images, "
        f"trained in {result.card['training']['training_seconds']:.0f} s"
    )
    if "baseline" in metrics:
        print(f"the plain TinyVGG it started from: {metrics['baseline']['test_accuracy']:.4f}")
    print(f"model written to {result.output}/ (weights.safetensors, card.json, samples/)")
    return 0

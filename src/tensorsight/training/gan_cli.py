"""``tensorsight train-gan``: train a DCGAN on Fashion-MNIST or a folder of photos.

tensorsight train-gan --output runs/dcgan
tensorsight train-gan --data my-photos/ --image-size 64 --epochs 20 --output runs/photos-gan
"""

from __future__ import annotations

import argparse

from tensorsight.training._command import add_data_options, positive_float, positive_int

_DEFAULT_OUTPUT = "dcgan-run"
# The options that, when given, override GanConfig's defaults.
_OPTIONS = (
    "epochs",
    "image_size",
    "channels",
    "latent_dim",
    "features",
    "batch_size",
    "learning_rate",
    "seed",
    "limit",
    "threads",
    "measure_quality",
)


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``train-gan`` on the top-level parser's sub-parsers and set its ``handler``."""
    parser = subparsers.add_parser(
        "train-gan",
        help="train a DCGAN (generator + discriminator) on Fashion-MNIST or your own photos",
        description="Train a DCGAN and write generator.safetensors, discriminator.safetensors, "
        "card.json (architecture, latent size, data checksums, time, quality) and a sample grid "
        "per epoch (grids/epoch-NN.png) into --output. Serve it with "
        "`tensorsight serve --model dcgan --weights OUTPUT/generator.safetensors`.",
    )
    add_data_options(
        parser,
        data_help="'fashion-mnist' (default) or a folder with sub-folders of images",
        output_default=_DEFAULT_OUTPUT,
        output_help="folder to write the pair into",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        choices=(16, 32, 64, 128),
        default=None,
        help="side of the generated square images (default: 32)",
    )
    parser.add_argument(
        "--channels",
        type=int,
        choices=(1, 3),
        default=None,
        help="1 = grayscale, 3 = RGB (default: 1 for Fashion-MNIST, else 3)",
    )
    parser.add_argument("--latent-dim", type=positive_int, default=None, help="default: 64")
    parser.add_argument(
        "--features",
        type=positive_int,
        default=None,
        help="filters of the widest-resolution layer (default: 32)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=None)
    parser.add_argument("--learning-rate", type=positive_float, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--limit",
        type=positive_int,
        default=None,
        help="train on only this many images (a quick check)",
    )
    parser.add_argument(
        "--no-quality",
        dest="measure_quality",
        action="store_false",
        default=None,
        help="skip the Fréchet distance and class histogram",
    )
    parser.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Train as the parsed ``args`` say; print where the pair went and its quality."""
    from tensorsight.training._command import train_from_args
    from tensorsight.training.gan import GanConfig, train_gan

    result = train_from_args("train-gan", args, _OPTIONS, GanConfig, train_gan)
    if result is None:
        return 1
    training = result.card["training"]
    print(f"trained {training['iterations']} iterations in {training['training_seconds']:.0f} s")
    quality = result.card["quality"]
    if quality:
        print(
            f"Fréchet distance {quality['frechet_distance']:.2f} (floor "
            f"{quality['floor_train_vs_test']:.2f}, untrained "
            f"{quality['ceiling_untrained_generator']:.2f}); smallest class "
            f"{quality['smallest_class_fraction']:.1%}"
        )
    print(
        f"written to {result.output}/ (generator.safetensors, discriminator.safetensors, "
        f"card.json, grids/)"
    )
    return 0

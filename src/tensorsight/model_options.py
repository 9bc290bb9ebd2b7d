"""The command-line options that choose a model, shared by ``serve`` and ``export``.

Outside :mod:`tensorsight.models` so that building ``tensorsight --help`` imports no PIL or
torch: the model code is imported when an option is used.

>>> import argparse
>>> parser = argparse.ArgumentParser()
>>> add_model_options(parser)
>>> parser.parse_args(["--input-size", "32x48"]).input_size
(32, 48)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tensorsight.models import ModelBundle


# The options that describe one model; with several --model they would be ambiguous.
SINGLE_MODEL_OPTIONS = ("weights", "classes", "input_size", "samples")


def add_model_options(parser: argparse.ArgumentParser, *, several: bool = False) -> None:
    """Add ``--model --weights --classes --input-size --samples --trust-pickle`` to ``parser``.

    ``several``: ``--model`` may be repeated (``args.model`` is then a list, None when absent).
    """
    if several:
        parser.add_argument(
            "--model",
            action="append",
            metavar="NAME_OR_SPEC",
            help="tinyvgg, tinyvgg-deformable, mobilenet_v2, dcgan (the shipped Fashion-MNIST "
            "generator), dcgan-discriminator, or package.module:factory "
            "returning your torch.nn.Module; repeat it to serve several models with a "
            "picker (default: every built-in model whose weights are installed)",
        )
    else:
        parser.add_argument(
            "--model",
            default="tinyvgg",
            metavar="NAME_OR_SPEC",
            help="tinyvgg (default: trained on Fashion-MNIST, shipped with tensorsight), "
            "tinyvgg-deformable (the same with deformable last convolutions), "
            "mobilenet_v2, dcgan (the shipped Fashion-MNIST generator; dcgan-discriminator "
            "for its discriminator), or package.module:factory returning your "
            "torch.nn.Module",
        )
    parser.add_argument(
        "--weights",
        type=Path,
        metavar="FILE",
        help="weights for the model: .safetensors, or a torch state dict "
        "(.pt/.pth, needs --trust-pickle)",
    )
    parser.add_argument(
        "--classes", type=Path, metavar="FILE", help="class names: one per line, or a JSON list"
    )
    parser.add_argument(
        "--input-size",
        type=input_size,
        metavar="HxW",
        help="the model's input height and width in pixels, e.g. 224x224",
    )
    parser.add_argument(
        "--samples",
        type=Path,
        metavar="DIR",
        help="a folder of images to offer as samples (a file named after a class, e.g. "
        "bag-1.png, is labelled with it); by default the model's own, or for a model "
        "taking colour images the photos shipped with tensorsight",
    )
    parser.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow --weights files in torch's pickle format; only for files you trust, "
        "since unpickling can run code",
    )


def bundle_from_args(args: argparse.Namespace, spec: str | None = None) -> ModelBundle:
    """The model the options name (``spec`` instead of ``args.model`` when given); every
    problem is a ``ModelLoadError`` sentence."""
    from tensorsight.models import load_model

    class_names = read_classes(args.classes) if args.classes is not None else None
    return load_model(
        spec or args.model,
        weights=args.weights,
        class_names=class_names,
        input_size=args.input_size,
        trust_pickle=args.trust_pickle,
        samples=args.samples,
    )


def read_classes(path: Path) -> tuple[str, ...]:
    """Class names from a JSON list or a text file with one name per line.

    >>> read_classes(Path("/nonexistent"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tensorsight.models.loading.ModelLoadError: cannot read --classes /nonexistent: ...
    """
    from tensorsight.models import ModelLoadError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"cannot read --classes {path}: {error}") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelLoadError(f"--classes {path} is not valid JSON: {error}") from None
        if not all(isinstance(name, str) for name in names):
            raise ModelLoadError(f"--classes {path} must be a JSON list of strings")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise ModelLoadError(f"--classes {path} names no classes")
    return tuple(names)


def input_size(text: str) -> tuple[int, int]:
    """``"224x224"`` -> ``(224, 224)`` (height, width); argparse reports a bad value.

    >>> input_size("64x32")
    (64, 32)
    """
    height, sep, width = text.lower().partition("x")
    if not (sep and height.isdigit() and width.isdigit() and int(height) and int(width)):
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW in pixels, e.g. 224x224")
    return int(height), int(width)

"""What ``tensorsight train`` and ``tensorsight train-gan`` share: parsed options → config →
training, a dataset problem reported as one line on stderr."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

_Config = TypeVar("_Config")
_Number = TypeVar("_Number", int, float)
_Result = TypeVar("_Result")


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1, else a one-line usage error.

    >>> positive_int("3")
    3
    """
    value = _number(text, int, "a whole number")
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a finite number above 0.

    >>> positive_float("0.002")
    0.002
    """
    value = _number(text, float, "a number")
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, not {text}")
    return value


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number of at least 0.

    >>> non_negative_float("0")
    0.0
    """
    value = _number(text, float, "a number")
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number of at least 0, not {text}")
    return value


def fraction(text: str) -> float:
    """An argparse type: a number from 0 up to (not including) 1.

    >>> fraction("0.05")
    0.05
    """
    value = _number(text, float, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be from 0 up to (not including) 1, not {text}")
    return value


def _number(text: str, kind: Callable[[str], _Number], what: str) -> _Number:
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None


def add_data_options(
    parser: argparse.ArgumentParser, *, data_help: str, output_default: str, output_help: str
) -> None:
    """Add ``--data``, ``--data-dir``, ``--output``/``-o`` and ``--epochs``, the options every
    training command reads the same way (``--epochs`` left ``None``: the config's default)."""
    parser.add_argument("--data", default="fashion-mnist", help=data_help)
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder holding the Fashion-MNIST *-ubyte.gz files "
        "(default: $TENSORSIGHT_FASHION_MNIST or /usr/share/datasets/fashion-mnist)",
    )
    parser.add_argument(
        "--output",
        "-o",
        default=output_default,
        help=f"{output_help} (default: {output_default})",
    )
    parser.add_argument("--epochs", type=positive_int, default=None)


def given_options(args: argparse.Namespace, names: Iterable[str]) -> dict[str, object]:
    """The options of ``names`` the command line set (``None`` means "left to the config").

    >>> given_options(argparse.Namespace(epochs=3, seed=None), ("epochs", "seed"))
    {'epochs': 3}
    """
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def train_from_args(
    command: str,
    args: argparse.Namespace,
    options: Iterable[str],
    make_config: Callable[..., _Config],
    train: Callable[[_Config], _Result],
    *,
    defaults: Mapping[str, object] | None = None,
    **fields: object,
) -> _Result | None:
    """Train with the config the parsed ``args`` describe, or say why not.

    The config gets ``output``, ``data``, ``data_dir`` and ``progress`` (``not args.quiet``)
    from ``args``, then ``defaults``, overridden by the ``options`` the command line set,
    overridden by ``fields``. A missing or unreadable dataset prints
    ``tensorsight COMMAND: <error>`` on stderr and returns ``None``.
    """
    from tensorsight.data import DatasetError, DatasetNotFoundError

    config = make_config(
        output=args.output,
        data=args.data,
        data_dir=args.data_dir,
        progress=not args.quiet,
        **{**(defaults or {}), **given_options(args, options), **fields},
    )
    try:
        return train(config)
    except (DatasetError, DatasetNotFoundError) as error:
        print(f"tensorsight {command}: {error}", file=sys.stderr)
        return None

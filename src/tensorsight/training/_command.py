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


def _number_type(
    kind: Callable[[str], _Number], what: str, accepts: Callable[[_Number], bool], bounds: str
) -> Callable[[str], _Number]:
    """An argparse type: ``kind`` parsed from the text and within ``bounds``, else a one-line
    usage error (``tensorsight train: error: argument --epochs: must be at least 1, not 0``)."""

    def parse(text: str) -> _Number:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {bounds}, not {text}")
        return value

    return parse


_INFINITY = float("inf")
#: argparse types for the training commands' numbers.
positive_int = _number_type(int, "a whole number", lambda value: value >= 1, "at least 1")
positive_float = _number_type(
    float, "a number", lambda value: 0 < value < _INFINITY, "a finite number above 0"
)
non_negative_float = _number_type(
    float, "a number", lambda value: 0 <= value < _INFINITY, "a finite number of at least 0"
)
fraction = _number_type(float, "a number", lambda value: 0 <= value < 1, "at least 0, below 1")


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

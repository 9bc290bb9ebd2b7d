"""The ``tensorsight`` command line: one sub-command per part, each registered by its own package.

Each sub-command lives beside the code it drives and exposes ``add_parser(subparsers)``, which
adds its parser and sets ``handler`` (a function taking the parsed namespace and returning an
exit code). Sub-command modules are imported only to build the parser; they import torch and
friends inside their handlers, so ``tensorsight --help`` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib import import_module

from tensorsight import __version__

_SUBCOMMAND_MODULES = (
    "tensorsight.server.cli",
    "tensorsight.training.cli",
    "tensorsight.training.gan_cli",
    "tensorsight.attribution.cli",
    "tensorsight.export.cli",
    "tensorsight.gan.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="tensorsight",
        description="Make deep learning visible: explain a CNN in the browser, train TinyVGG.",
    )
    parser.add_argument("--version", action="version", version=f"tensorsight {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _SUBCOMMAND_MODULES:
        import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (``--help`` and ``--version`` exit, as
    argparse does). With no command it prints the help and returns 2.

    >>> main([])
    usage: tensorsight [-h] [--version] COMMAND ...
    ...
    2
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    return int(handler(args))

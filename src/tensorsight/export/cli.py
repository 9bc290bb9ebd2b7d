"""``tensorsight export DIR``: write the explainer page with every sample's runs as static files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tensorsight.model_options import add_model_options, bundle_from_args


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``export`` on the ``tensorsight`` command line.

    >>> parser = argparse.ArgumentParser(prog="tensorsight")
    >>> export = add_parser(parser.add_subparsers())
    >>> parser.parse_args(["export", "site", "--channels", "4"]).channels
    4
    """
    parser = subparsers.add_parser(
        "export",
        help="write the explainer as a static site (no Python needed to serve it)",
        description=(
            "Write the explainer page and every sample's runs (overview, activations, detail "
            "views) as plain files into DIR, for any static web host: "
            "`python -m http.server -d DIR` shows it. Uploads are off there: no Python runs "
            "the model."
        ),
    )
    parser.add_argument("folder", type=Path, metavar="DIR", help="new or empty folder to write")
    add_model_options(parser)
    parser.add_argument(
        "--sample",
        action="append",
        dest="sample_ids",
        metavar="ID",
        help="export only this sample (repeatable; default: every sample)",
    )
    parser.add_argument(
        "--channels",
        type=_positive,
        metavar="N",
        help="exact values and detail views for the first N channels of each layer only "
        "(default: all; large networks' sites shrink a lot)",
    )
    parser.set_defaults(handler=export)
    return parser


def export(args: argparse.Namespace) -> int:
    """Load the model, write the site, print what was written."""
    from tensorsight.explanation import Explainer
    from tensorsight.export import export_site
    from tensorsight.models import ModelLoadError

    try:
        bundle = bundle_from_args(args)
        report = export_site(
            Explainer.from_bundle(bundle),
            args.folder,
            sample_ids=args.sample_ids,
            channels=args.channels,
        )
    except (ModelLoadError, FileExistsError, ValueError) as error:
        print(f"tensorsight export: error: {error}", file=sys.stderr)
        return 2
    except KeyError as error:
        print(f"tensorsight export: error: {error.args[0]}", file=sys.stderr)
        return 2
    print(
        f"tensorsight: {report.describe()}; serve it with `python -m http.server -d {args.folder}`",
        flush=True,
    )
    return 0


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)

"""``tensorsight gan``: the GAN Lab page (the explainer's server, opened at /gan).

>>> import argparse
>>> parser = argparse.ArgumentParser(prog="tensorsight")
>>> gan = add_parser(parser.add_subparsers())
>>> parser.parse_args(["gan", "-p", "0"]).page
'gan'
"""

from __future__ import annotations

import argparse

from tensorsight.server.cli import DEFAULT_HOST, DEFAULT_PORT, add_gan_option


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``gan`` on the ``tensorsight`` command line."""
    parser = subparsers.add_parser(
        "gan",
        help="train a tiny GAN live in your browser (GAN Lab, served by Python)",
        description=(
            "Serve GAN Lab: a generator and a discriminator on 2-D points, trained live in "
            "PyTorch and drawn in your browser. The same server as `tensorsight serve` (its "
            "page links to the explainer), listening on 127.0.0.1 (this computer only) unless "
            "--host says otherwise."
        ),
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: 127.0.0.1, this computer only)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument("--open", action="store_true", help="open the page in your web browser")
    add_gan_option(parser)
    parser.set_defaults(handler=_serve_gan, page="gan")
    return parser


def _serve_gan(args: argparse.Namespace) -> int:
    from tensorsight.server import cli as server_cli

    # Everything else as `tensorsight serve` defaults it (the shipped model for the explainer).
    parser = argparse.ArgumentParser()
    server_cli.add_parser(parser.add_subparsers())
    for name, value in vars(parser.parse_args(["serve"])).items():
        if not hasattr(args, name):
            setattr(args, name, value)
    if args.model is None:  # the explainer beside GAN Lab: the shipped model alone, quick to start
        args.model = ["tinyvgg"]
    if args.gan_sessions < 1:
        args.gan_sessions = 1
    return server_cli.serve(args)


__all__ = ["add_parser"]

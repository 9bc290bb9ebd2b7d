"""``tensorsight serve``: a CNN explained in the browser, served to this computer by default."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from tensorsight.model_options import SINGLE_MODEL_OPTIONS, add_model_options, bundle_from_args
from tensorsight.server.hosts import host_check_note, is_loopback, trusted_hosts

if TYPE_CHECKING:
    from tensorsight.models import ModelBundle

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class UsageError(Exception):
    """A bad option value or model; ``str()`` is the one line shown to the user (exit 2)."""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``serve`` on the ``tensorsight`` command line.

    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="tensorsight")
    >>> serve = add_parser(parser.add_subparsers())
    >>> parser.parse_args(["serve", "-p", "0"]).host
    '127.0.0.1'
    """
    parser = subparsers.add_parser(
        "serve",
        help="explain a CNN layer by layer in your browser",
        description=(
            "Serve the network explainer: a page that shows a CNN's activations layer by layer "
            "for sample images or your own uploads. It listens on 127.0.0.1 (this computer only) "
            "unless --host says otherwise."
        ),
    )
    parser.add_argument(
        "--host", default=DEFAULT_HOST,
        help="address to listen on (default: 127.0.0.1, reachable from this computer only; "
             "0.0.0.0 shares it with your network)")
    parser.add_argument(
        "-p", "--port", type=int, default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})")
    parser.add_argument(
        "--allow-host", action="append", default=[], metavar="NAME",
        help="also answer requests addressed to this host name (a proxy's or an alias; "
             "repeatable); '*' turns the Host check off")
    parser.add_argument("--open", action="store_true", help="open the page in your web browser")
    add_model_options(parser, several=True)
    parser.set_defaults(handler=serve)
    return parser


def serve(args: argparse.Namespace) -> int:
    """Bind the socket, load the model, print the URL and serve until interrupted."""
    try:
        listener = _listen(args.host, args.port)  # first: a busy port fails before a slow load
        with _closed_on_error(listener):
            specs = _model_specs(args)
            bundles = [_load_bundle(args, spec) for spec in specs]
    except UsageError as error:
        print(f"tensorsight serve: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while a large model loads
        return 130

    import uvicorn

    from tensorsight.explanation import Explainer
    from tensorsight.server.several import ServedModel, create_multi_app, unique_ids

    allowed = trusted_hosts(args.host, args.allow_host)
    served = [ServedModel(model_id, bundle.name, Explainer.from_bundle(bundle))
              for model_id, bundle in zip(unique_ids(specs), bundles, strict=True)]
    app = create_multi_app(served, allowed_hosts=allowed)
    url = _url(args.host, listener.getsockname()[1])
    reach = "this computer only" if is_loopback(args.host) else "other computers too"
    names = ", ".join(bundle.name for bundle in bundles)
    print(f"tensorsight: serving {names} at {url} ({reach}; Ctrl+C stops)", flush=True)
    note = host_check_note(args.host, allowed)
    if note:
        print(note, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    config = uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[listener])
    return 0


@contextmanager
def _closed_on_error(listener: socket.socket) -> Iterator[None]:
    try:
        yield
    except BaseException:
        listener.close()
        raise


def _load_bundle(args: argparse.Namespace, spec: str) -> ModelBundle:
    from tensorsight.models import ModelLoadError

    try:
        return bundle_from_args(args, spec)
    except ModelLoadError as error:
        raise UsageError(f"{spec}: {error}" if len(args.model or ()) > 1 else str(error)) from None


def _model_specs(args: argparse.Namespace) -> list[str]:
    """The --model specs given, else every built-in model whose weights are installed (just
    tinyvgg when --weights, --classes... describe one model)."""
    given = [f"--{name.replace('_', '-')}" for name in SINGLE_MODEL_OPTIONS
             if getattr(args, name) is not None]
    if args.model:
        if len(args.model) > 1 and given:
            raise UsageError(f"{', '.join(given)} describe one model; serve one --model "
                             f"with them, or several without.")
        return list(args.model)
    if given:
        return ["tinyvgg"]
    from tensorsight.models import installed_builtin_models

    return list(installed_builtin_models())


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, so the printed URL (with the real port when ``port`` is 0) works."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
        listener = socket.socket(family, kind, proto)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as error:
        reason = error.strerror or error
        raise UsageError(f"cannot listen on {host} port {port}: {reason}") from None
    listener.listen(128)
    listener.set_inheritable(True)
    return listener


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"

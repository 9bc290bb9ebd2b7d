"""``tensorsight serve``: a CNN explained in the browser, served to this computer by default."""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tensorsight.devices import DeviceError, add_device_option, describe_device, resolve_device
from tensorsight.model_options import SINGLE_MODEL_OPTIONS, add_model_options, read_classes
from tensorsight.server.hosts import host_check_note, is_loopback, trusted_hosts
from tensorsight.server.processes import (
    DEFAULT_CACHE_MB,
    DEFAULT_DIRECTORY_STORE_MB,
    DEFAULT_STORE_MB,
    PendingModel,
    ServeOptions,
    load_bundles,
)

if TYPE_CHECKING:
    from tensorsight.models import ModelBundle

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


class UsageError(Exception):
    """A bad option value or model; ``str()`` is the one line shown to the user (exit 2)."""


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
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
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: 127.0.0.1, reachable from this computer only; "
        "0.0.0.0 shares it with your network)",
    )
    parser.add_argument(
        "-p",
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument("--open", action="store_true", help="open the page in your web browser")
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to this host name (a proxy's or an alias; "
        "repeatable); '*' turns the Host check off",
    )
    add_model_options(parser, several=True)
    _add_scale_options(parser)
    add_gan_option(parser)
    parser.set_defaults(handler=serve)
    return parser


def _add_scale_options(parser: argparse.ArgumentParser) -> None:
    """Options for serving a class: processes, where runs live, memory, device."""
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="worker processes behind the one port (default: 1); any worker answers any run",
    )
    parser.add_argument(
        "--store",
        type=Path,
        metavar="DIR",
        help="keep the runs' inputs in this directory (shared by workers and by several hosts "
        "behind a load balancer; runs survive a restart); default: in memory",
    )
    parser.add_argument(
        "--store-mb",
        type=_positive,
        metavar="MB",
        help=f"most space for stored inputs (default: {DEFAULT_STORE_MB} in memory, "
        f"{DEFAULT_DIRECTORY_STORE_MB} in --store)",
    )
    parser.add_argument(
        "--cache-mb",
        type=_positive,
        default=DEFAULT_CACHE_MB,
        metavar="MB",
        help="memory for computed runs per worker and model: their activations are kept up to "
        "this size and recomputed from their inputs when asked again; a sixteenth of it keeps "
        f"gzipped answers already sent (default: {DEFAULT_CACHE_MB})",
    )
    parser.add_argument(
        "--threads",
        type=_positive,
        default=1,
        metavar="N",
        help="torch threads per worker (default: 1; a class sends many small requests at once, "
        "and on a busy machine an op split over threads waits for the slowest: scale out with "
        "--workers instead)",
    )
    add_device_option(parser)


def add_gan_option(parser: argparse.ArgumentParser) -> None:
    """``--gan-sessions``: how many GAN Lab sessions (browser tabs at /gan) may train at once."""
    parser.add_argument(
        "--gan-sessions",
        type=int,
        default=4,
        metavar="N",
        help="GAN Lab sessions (tabs at /gan) training at once; 0 turns GAN Lab off (default: 4)",
    )


def serve(args: argparse.Namespace) -> int:
    """Bind the socket, load the model, print the URL and serve until interrupted.

    Ctrl+C stops it with one line and exit code 130.
    """
    try:
        listener = _listen(args.host, args.port)  # first: a busy port fails before a slow load
        with _closed_on_error(listener):
            options = _options(args)
            bundles = _load_bundles(options)
    except UsageError as error:
        print(f"tensorsight serve: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while a large model loads
        print("tensorsight: stopped.", flush=True)
        return 130

    url = _url(args.host, listener.getsockname()[1])
    reach = "this computer only" if is_loopback(args.host) else "other computers too"
    workers = f"{options.workers} workers" if options.workers > 1 else "1 process"
    print(
        f"tensorsight: {workers} on {describe_device(options.device)}, {options.cache_mb} MB "
        f"of activations each, {options.store_description()}",
        flush=True,
    )
    what = ", ".join(bundle.name for bundle in bundles)
    if getattr(args, "page", ""):  # `tensorsight gan`: the GAN Lab page of the same server
        url, what = url + args.page, "GAN Lab"
    print(f"tensorsight: serving {what} at {url} ({reach}; Ctrl+C stops)", flush=True)
    note = host_check_note(args.host, options.allowed_hosts)
    if note:
        print(note, flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    interrupted = _serve(options, bundles, listener)
    print("tensorsight: stopped.", flush=True)
    return 130 if interrupted else 0


def _serve(
    options: ServeOptions, bundles: list[ModelBundle | PendingModel], listener: socket.socket
) -> bool:
    """Serve until stopped; True when Ctrl+C stopped it."""
    from tensorsight.server.processes import serve_here, serve_workers

    try:
        if options.workers == 1:
            serve_here(options, bundles, listener)
            return False
        return serve_workers(options, listener)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it shut down for
        return True


def _options(args: argparse.Namespace) -> ServeOptions:
    from tensorsight.models import ModelLoadError

    try:
        class_names = read_classes(args.classes) if args.classes is not None else None
    except ModelLoadError as error:
        raise UsageError(str(error)) from None
    samples = str(args.samples.expanduser()) if args.samples is not None else None
    store = args.store.expanduser().resolve() if args.store is not None else None
    if store is not None:
        try:
            store.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot use --store {store}: {error.strerror or error}") from None
    return ServeOptions(
        models=tuple(_model_specs(args)),
        weights=str(args.weights) if args.weights else None,
        class_names=class_names,
        input_size=args.input_size,
        trust_pickle=args.trust_pickle,
        samples=samples,
        allowed_hosts=trusted_hosts(args.host, args.allow_host),
        workers=args.workers,
        store=str(store) if store else None,
        store_mb=args.store_mb,
        cache_mb=args.cache_mb,
        threads=args.threads,
        device=_device(args.device),
        gan_sessions=args.gan_sessions,
    )


def _device(name: str) -> str:
    try:
        return resolve_device(name)
    except DeviceError as error:
        raise UsageError(f"--{error}") from None


@contextmanager
def _closed_on_error(listener: socket.socket) -> Iterator[None]:
    try:
        yield
    except BaseException:
        listener.close()
        raise


def _load_bundles(options: ServeOptions) -> list[ModelBundle | PendingModel]:
    from tensorsight.models import ModelLoadError

    try:
        return load_bundles(options)
    except ModelLoadError as error:
        raise UsageError(str(error)) from None


def _model_specs(args: argparse.Namespace) -> list[str]:
    """The --model specs given, else every built-in model whose weights are installed (just
    tinyvgg when --weights, --classes... describe one model)."""
    given = [
        f"--{name.replace('_', '-')}"
        for name in SINGLE_MODEL_OPTIONS
        if getattr(args, name) is not None
    ]
    if args.model:
        if len(args.model) > 1 and given:
            raise UsageError(
                f"{', '.join(given)} describe one model; serve one --model "
                f"with them, or several without."
            )
        return list(args.model)
    if given:
        return ["tinyvgg"]
    from tensorsight.models import installed_builtin_models

    return list(installed_builtin_models())


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, so the printed URL (with the real port when ``port`` is 0) works."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
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

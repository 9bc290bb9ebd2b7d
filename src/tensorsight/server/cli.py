"""``tensorsight serve``: a CNN explained in the browser, served to this computer by default."""

from __future__ import annotations

import argparse
import ipaddress
import json
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from tensorsight.server.processes import (
    DEFAULT_CACHE_MB,
    DEFAULT_DIRECTORY_STORE_MB,
    DEFAULT_STORE_MB,
    ServeOptions,
    load_bundle,
)

if TYPE_CHECKING:
    from tensorsight.models import ModelBundle

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_LOOPBACK_NAMES = ("localhost",)


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
    parser.add_argument("--open", action="store_true", help="open the page in your web browser")
    parser.add_argument(
        "--model", default="tinyvgg", metavar="NAME_OR_SPEC",
        help="tinyvgg (default: trained on Fashion-MNIST, shipped with tensorsight), "
             "tinyvgg-deformable (the same with deformable last convolutions), "
             "mobilenet_v2, dcgan (the shipped Fashion-MNIST generator; dcgan-discriminator "
             "for its discriminator), or package.module:factory returning your torch.nn.Module")
    parser.add_argument("--weights", type=Path, metavar="FILE",
                        help="weights for the model: .safetensors, or a torch state dict "
                             "(.pt/.pth, needs --trust-pickle)")
    parser.add_argument("--classes", type=Path, metavar="FILE",
                        help="class names: one per line, or a JSON list")
    parser.add_argument("--input-size", type=_input_size, metavar="HxW",
                        help="the model's input height and width in pixels, e.g. 224x224")
    parser.add_argument(
        "--trust-pickle", action="store_true",
        help="allow --weights files in torch's pickle format; only for files you trust, "
             "since unpickling can run code")
    _add_scale_options(parser)
    add_gan_option(parser)
    parser.set_defaults(handler=serve)
    return parser


def _add_scale_options(parser: argparse.ArgumentParser) -> None:
    """Options for serving a class: processes, where runs live, memory, device."""
    parser.add_argument(
        "--workers", type=_positive, default=1, metavar="N",
        help="worker processes behind the one port (default: 1); any worker answers any run")
    parser.add_argument(
        "--store", type=Path, metavar="DIR",
        help="keep the runs' inputs in this directory (shared by workers and by several hosts "
             "behind a load balancer; runs survive a restart); default: in memory")
    parser.add_argument(
        "--store-mb", type=_positive, metavar="MB",
        help=f"most space for stored inputs (default: {DEFAULT_STORE_MB} in memory, "
             f"{DEFAULT_DIRECTORY_STORE_MB} in --store)")
    parser.add_argument(
        "--cache-mb", type=_positive, default=DEFAULT_CACHE_MB, metavar="MB",
        help="activation budget per worker: computed runs are kept up to this size and "
             f"recomputed from their inputs when asked again (default: {DEFAULT_CACHE_MB})")
    add_device_option(parser)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``, shared by the commands that run a model."""
    parser.add_argument(
        "--device", default="auto", choices=("auto", "cpu", "cuda", "mps"),
        help="where the model runs (default: auto, the first available of cuda, mps, cpu)")


def add_gan_option(parser: argparse.ArgumentParser) -> None:
    """``--gan-sessions``: how many GAN Lab sessions (browser tabs at /gan) may train at once."""
    parser.add_argument(
        "--gan-sessions", type=int, default=4, metavar="N",
        help="GAN Lab sessions (tabs at /gan) training at once; 0 turns GAN Lab off "
             "(default: 4)")


def serve(args: argparse.Namespace) -> int:
    """Bind the socket, load the model, print the URL and serve until interrupted.

    Ctrl+C stops it with one line and exit code 130.
    """
    try:
        listener = _listen(args.host, args.port)  # first: a busy port fails before a slow load
        with _closed_on_error(listener):
            options = _options(args)
            bundle = _load_bundle(options)
    except UsageError as error:
        print(f"tensorsight serve: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while a large model loads
        print("tensorsight: stopped.", flush=True)
        return 130

    url = _url(args.host, listener.getsockname()[1])
    reach = "this computer only" if _is_loopback(args.host) else "other computers too"
    workers = f"{options.workers} workers" if options.workers > 1 else "1 process"
    print(f"tensorsight: {workers} on {options.device}, {options.cache_mb} MB of activations "
          f"each, {options.store_description()}", flush=True)
    what = bundle.name
    if getattr(args, "page", ""):  # `tensorsight gan`: the GAN Lab page of the same server
        url, what = url + args.page, "GAN Lab"
    print(f"tensorsight: serving {what} at {url} ({reach}; Ctrl+C stops)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    interrupted = _serve(options, bundle, listener)
    print("tensorsight: stopped.", flush=True)
    return 130 if interrupted else 0


def _serve(options: ServeOptions, bundle: ModelBundle, listener: socket.socket) -> bool:
    """Serve until stopped; True when Ctrl+C stopped it."""
    from tensorsight.server.processes import serve_here, serve_workers

    try:
        if options.workers == 1:
            serve_here(options, bundle, listener)
            return False
        return serve_workers(options, listener)
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it shut down for
        return True


def _options(args: argparse.Namespace) -> ServeOptions:
    class_names = _read_classes(args.classes) if args.classes is not None else None
    store = args.store.expanduser().resolve() if args.store is not None else None
    if store is not None:
        try:
            store.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(f"cannot use --store {store}: {error.strerror or error}") from None
    return ServeOptions(
        model=args.model, weights=str(args.weights) if args.weights else None,
        class_names=class_names, input_size=args.input_size, trust_pickle=args.trust_pickle,
        allowed_hosts=_trusted_hosts(args.host), workers=args.workers,
        store=str(store) if store else None, store_mb=args.store_mb, cache_mb=args.cache_mb,
        device=resolve_device(args.device), gan_sessions=args.gan_sessions)


def resolve_device(name: str) -> str:
    """``auto`` -> the first available of cuda, mps, cpu; an unavailable device is a UsageError.

    >>> resolve_device("cpu")
    'cpu'
    """
    import torch

    available = {"cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available(),
                 "cpu": True}
    if name == "auto":
        return next(device for device, present in available.items() if present)
    if not available[name]:
        raise UsageError(f"--device {name} is not available on this computer")
    return name


@contextmanager
def _closed_on_error(listener: socket.socket) -> Iterator[None]:
    try:
        yield
    except BaseException:
        listener.close()
        raise


def _load_bundle(options: ServeOptions) -> ModelBundle:
    from tensorsight.models import ModelLoadError

    try:
        return load_bundle(options)
    except ModelLoadError as error:
        raise UsageError(str(error)) from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return int(text)


def _read_classes(path: Path) -> tuple[str, ...]:
    """Class names from a JSON list or a text file with one name per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read --classes {path}: {error}") from None
    if text.lstrip().startswith("["):
        try:
            names = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--classes {path} is not valid JSON: {error}") from None
        if not all(isinstance(name, str) for name in names):
            raise UsageError(f"--classes {path} must be a JSON list of strings")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip()]
    if not names:
        raise UsageError(f"--classes {path} names no classes")
    return tuple(names)


def _input_size(text: str) -> tuple[int, int]:
    """``"224x224"`` -> ``(224, 224)`` (height, width); argparse reports a ValueError."""
    height, sep, width = text.lower().partition("x")
    if not (sep and height.isdigit() and width.isdigit() and int(height) and int(width)):
        raise argparse.ArgumentTypeError(f"{text!r} is not HxW in pixels, e.g. 224x224")
    return int(height), int(width)


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


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _trusted_hosts(host: str) -> tuple[str, ...] | None:
    """Host names a loopback server answers to: a web page cannot rebind its own name to it."""
    if not _is_loopback(host) or ":" in host:  # Starlette's check cannot parse "[::1]:8000"
        return None
    return tuple(dict.fromkeys(("localhost", "127.0.0.1", host)))


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"

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
             "mobilenet_v2, or package.module:factory returning your torch.nn.Module")
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
    add_gan_option(parser)
    parser.set_defaults(handler=serve)
    return parser


def add_gan_option(parser: argparse.ArgumentParser) -> None:
    """``--gan-sessions``: how many GAN Lab sessions (browser tabs at /gan) may train at once."""
    parser.add_argument(
        "--gan-sessions", type=int, default=4, metavar="N",
        help="GAN Lab sessions (tabs at /gan) training at once; 0 turns GAN Lab off "
             "(default: 4)")


def serve(args: argparse.Namespace) -> int:
    """Bind the socket, load the model, print the URL and serve until interrupted."""
    try:
        listener = _listen(args.host, args.port)  # first: a busy port fails before a slow load
        with _closed_on_error(listener):
            bundle = _load_bundle(args)
    except UsageError as error:
        print(f"tensorsight serve: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl+C while a large model loads
        return 130

    import uvicorn

    from tensorsight.explanation import Explainer
    from tensorsight.server.app import create_app

    app = create_app(Explainer.from_bundle(bundle), allowed_hosts=_trusted_hosts(args.host),
                     gan_sessions=args.gan_sessions)
    url = _url(args.host, listener.getsockname()[1])
    reach = "this computer only" if _is_loopback(args.host) else "other computers too"
    what = bundle.name
    if getattr(args, "page", ""):  # `tensorsight gan`: the GAN Lab page of the same server
        url, what = url + args.page, "GAN Lab"
    print(f"tensorsight: serving {what} at {url} ({reach}; Ctrl+C stops)", flush=True)
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


def _load_bundle(args: argparse.Namespace) -> ModelBundle:
    from tensorsight.models import ModelLoadError, load_model

    class_names = _read_classes(args.classes) if args.classes is not None else None
    try:
        return load_model(args.model, weights=args.weights, class_names=class_names,
                          input_size=args.input_size, trust_pickle=args.trust_pickle)
    except ModelLoadError as error:
        raise UsageError(str(error)) from None


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

"""Which ``Host`` header names ``tensorsight serve`` answers to, and what it says about that.

A web page can point a name it controls at 127.0.0.1 (DNS rebinding) and then read a local
server as if it were its own origin. Checking the ``Host`` header stops that: the browser sends
the attacker's name, the server answers 400. A server shared on the network (``--host 0.0.0.0``)
keeps the check, with this machine's own names and addresses as the accepted hosts; other
names (a reverse proxy's, a DNS alias) are added with ``--allow-host``, and ``--allow-host '*'``
turns the check off on purpose.

>>> names = trusted_hosts("127.0.0.1")
>>> names[:2]
('localhost', '127.0.0.1')
>>> trusted_hosts("127.0.0.1", ["*"]) is None
True
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Sequence

LOOPBACK_NAMES = ("localhost",)
ANY_HOST = "*"
_WILDCARD_ADDRESSES = ("0.0.0.0", "")
# A documentation address (RFC 5737): connecting a UDP socket to it sends nothing, but tells
# which local address the machine would use to reach the network.
_PROBE_ADDRESS = ("192.0.2.1", 9)


def is_loopback(host: str) -> bool:
    """True for names and addresses that only this computer can reach.

    >>> is_loopback("localhost"), is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def trusted_hosts(host: str, extra: Sequence[str] = ()) -> tuple[str, ...] | None:
    """The ``Host`` names a server listening on ``host`` accepts, or None for no check.

    Loopback servers accept localhost and 127.0.0.1; a server on another address also accepts
    this machine's host names and addresses; ``extra`` adds names (``"*"``: no check). IPv6
    listeners are not checked: Starlette's check cannot read ``[::1]:8000``.
    """
    if ANY_HOST in extra or ":" in host:
        return None
    names = (
        ["localhost", "127.0.0.1", host]
        if host not in _WILDCARD_ADDRESSES
        else ["localhost", "127.0.0.1"]
    )
    if not is_loopback(host):
        names += own_names()
    names += [name.strip().lower() for name in extra if name.strip()]
    return tuple(dict.fromkeys(name for name in names if name))


def own_names() -> list[str]:
    """This machine's host name, fully qualified name and IPv4 addresses, as far as it knows.

    >>> socket.gethostname().lower() in own_names()
    True
    """
    names = [socket.gethostname().lower(), socket.getfqdn().lower()]
    with contextlib.suppress(OSError):
        names += [
            str(info[4][0])
            for info in socket.getaddrinfo(socket.gethostname(), None, family=socket.AF_INET)
        ]
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(_PROBE_ADDRESS)  # no route at all: the names above will do
        names.append(probe.getsockname()[0])
    return [name for name in names if name and name != "0.0.0.0"]


def host_check_note(host: str, allowed: tuple[str, ...] | None) -> str | None:
    """The start-up line about the Host check, or None for a loopback server (nothing to say).

    >>> host_check_note("0.0.0.0", ("localhost", "myhost")).split(" (")[0]
    'tensorsight: answering requests addressed to localhost, myhost only'
    """
    if allowed is None:
        reason = "IPv6 address" if ":" in host else "--allow-host '*'"
        return (
            f"tensorsight: warning: the Host-header check is off ({reason}): a web page "
            f"opened in a browser that reaches this server could read it through DNS "
            f"rebinding"
        )
    if is_loopback(host):
        return None
    return (
        f"tensorsight: answering requests addressed to {', '.join(allowed)} only (others "
        f"get 400, a guard against DNS rebinding); add a name with --allow-host NAME"
    )

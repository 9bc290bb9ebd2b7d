"""Where instrumented code reports: one active observer per thread.

``explain()`` and ``astviz()`` make an observer active in the thread that runs the instrumented
code; code running in another thread reports to that thread's observer (or to none), so two
threads explaining at once never see each other's values.

>>> class Printer(Observer):
...     def observe(self, site, value):
...         print(site, value)
>>> record = recorder_for(["x"])
>>> previous = activate(Printer())
>>> record(0, 42)
x 42
42
>>> _ = activate(previous)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

_local = threading.local()


class Observer:
    """What instrumented code reports to: ``observe(site, value)`` for each value computed."""

    calls = False  # also instrument the user's functions called from the observed code

    def observe(self, site: Any, value: Any) -> None:  # pragma: no cover - interface
        """Called with the sub-expression's description and its value (keep no reference)."""
        raise NotImplementedError


def active() -> Observer | None:
    """The observer instrumented code in this thread reports to, if any."""
    observer: Observer | None = getattr(_local, "observer", None)
    return observer


def activate(observer: Observer | None) -> Observer | None:
    """Make ``observer`` the one this thread's instrumented code reports to; returns the
    previous one (to be put back)."""
    previous = active()
    _local.observer = observer
    return previous


def recorder_for(sites: Sequence[Any]) -> Callable[[int, Any], Any]:
    """The ``__ts_record__`` of one instrumented unit: hands ``(sites[slot], value)`` to this
    thread's observer and returns ``value`` unchanged."""

    def record(slot: int, value: Any) -> Any:
        observer = getattr(_local, "observer", None)
        if observer is not None:
            observer.observe(sites[slot], value)
        return value

    return record

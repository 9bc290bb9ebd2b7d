"""The GAN session's methods, as entries of the host protocol's table (``tensorsight.protocol``).

A host extends its protocol with them, bound to one :class:`GanSession`:
``protocol.extend(session, gan_methods(), expected=(SettingsError,))``. Every method answers
JSON: the session's state (``gan_probe``: D's value at a point). Bad parameters raise
:class:`SettingsError` (400).

>>> [method.name for method in gan_methods()][:3]
['gan_state', 'gan_play', 'gan_pause']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tensorsight.gan.session import GanSession
from tensorsight.gan.settings import SettingsError
from tensorsight.protocol import Arguments, Method

Parse = Callable[[Mapping[str, Any]], dict[str, Any]]


def _nothing(params: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _settings(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(params)  # GanSettings.replace checks every name and value


def _step(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"which": params.get("which", "both")}


def _start(params: Mapping[str, Any]) -> dict[str, Any]:
    preset, pretrained, seed = (
        params.get("preset", "ring"),
        params.get("pretrained", True),
        params.get("seed", 0),
    )
    if not isinstance(preset, str):
        raise SettingsError("preset must be a preset's name.")
    if not isinstance(pretrained, bool):
        raise SettingsError("pretrained must be true or false.")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        raise SettingsError("seed must be a whole number from 0 to 2147483647.")
    return {"preset": preset, "pretrained": pretrained, "seed": seed}


def _draw(params: Mapping[str, Any]) -> dict[str, Any]:
    if "points" not in params:
        raise SettingsError("gan_draw needs points: [[x, y], ...] in the unit square.")
    return {"points": params["points"]}


def _probe(params: Mapping[str, Any]) -> dict[str, Any]:
    x, y = params.get("x"), params.get("y")
    return {"x": _coordinate(x), "y": None if y is None else _coordinate(y)}


def _coordinate(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= 10:
        raise SettingsError("gan_probe needs x (and y for 2-D points), numbers from -10 to 10.")
    return float(value)


#: name -> (parameter reader, the session method it calls)
GAN_METHODS: dict[str, tuple[Parse, Callable[..., Any]]] = {
    "gan_state": (_nothing, GanSession.state),
    "gan_play": (_nothing, GanSession.play),
    "gan_pause": (_nothing, GanSession.pause),
    "gan_step": (_step, GanSession.step),
    "gan_slow_step": (_nothing, GanSession.slow_step),
    "gan_reset": (_nothing, GanSession.reset),
    "gan_start": (_start, GanSession.start),
    "gan_configure": (_settings, GanSession.configure),
    "gan_collapse": (_nothing, GanSession.collapse),
    "gan_draw": (_draw, GanSession.draw),
    "gan_probe": (_probe, GanSession.probe),
}


def gan_methods() -> tuple[Method, ...]:
    """The protocol's entries for ``GAN_METHODS``."""
    return tuple(
        Method(name, _reader(parse), call=call) for name, (parse, call) in GAN_METHODS.items()
    )


def _reader(parse: Parse) -> Callable[[Arguments], Mapping[str, Any]]:
    return lambda arguments: parse(arguments.params)

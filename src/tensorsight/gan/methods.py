"""The GAN session's methods as a host offers them: a name, how to read its parameters, a call.

Messages are ``{id, method, params}``; every method answers the session's state (JSON) except
``gan_frame`` (the latest frame, a pack). Bad parameters raise :class:`SettingsError` (400).

>>> sorted(GAN_METHODS)[:3]
['gan_collapse', 'gan_configure', 'gan_draw']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tensorsight.gan.session import GanSession
from tensorsight.gan.settings import SettingsError

Parse = Callable[[Mapping[str, Any]], dict[str, Any]]


def _nothing(params: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _settings(params: Mapping[str, Any]) -> dict[str, Any]:
    return dict(params)  # GanSettings.replace checks every name and value


def _step(params: Mapping[str, Any]) -> dict[str, Any]:
    return {"which": params.get("which", "both")}


def _start(params: Mapping[str, Any]) -> dict[str, Any]:
    preset, pretrained, seed = (params.get("preset", "ring"), params.get("pretrained", True),
                                params.get("seed", 0))
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
    values = [params.get("x"), params.get("y")]
    for value in values[: 2 if values[1] is not None else 1]:
        if isinstance(value, bool) or not isinstance(value, int | float) or abs(value) > 10:
            raise SettingsError("gan_probe needs x (and y for 2-D points), numbers from -10 to 10.")
    return {"x": float(values[0]), "y": None if values[1] is None else float(values[1])}


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


def call_method(session: GanSession, name: str, params: Mapping[str, Any]) -> Any:
    """Run one message's method on ``session``; unknown names raise :class:`SettingsError`."""
    entry = GAN_METHODS.get(name)
    if entry is None:
        raise SettingsError(f"Unknown method {name!r}; known: {', '.join(sorted(GAN_METHODS))}.")
    parse, method = entry
    return method(session, **parse(params))

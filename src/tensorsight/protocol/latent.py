"""The generator methods of the Explainer table: run a latent vector, judge a photo.

``run_latent {z: [numbers] | null, seed: int | null}`` (JSON syntax; over HTTP the body of
``POST /api/latent-runs``) and ``judge_image {}`` with the image bytes as the first blob.

>>> [method.name for method in latent_methods(lambda data: data)]
['run_latent', 'judge_image']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorsight.protocol.arguments import Arguments
from tensorsight.protocol.errors import ProtocolError
from tensorsight.protocol.table import Method

# A latent vector of this many numbers is far beyond any generator tensorsight explains.
MAX_LATENT_NUMBERS = 4096


def latent_methods(decode: Callable[[bytes], Any]) -> tuple[Method, ...]:
    """``run_latent`` and ``judge_image``; ``decode`` turns upload bytes into a picture."""

    def image(arguments: Arguments) -> dict[str, Any]:
        return {"image": decode(arguments.blob("the image bytes"))}

    return (Method("run_latent", _latent), Method("judge_image", image))


def _latent(arguments: Arguments) -> dict[str, Any]:
    z = arguments.params.get("z")
    if z is not None and (
        not isinstance(z, list)
        or len(z) > MAX_LATENT_NUMBERS
        or not all(isinstance(value, int | float) and not isinstance(value, bool) for value in z)
    ):
        raise ProtocolError(400, "z must be a list of numbers (the latent vector), or null.")
    seed = arguments.params.get("seed")
    return {"z": z, "seed": None if seed is None else arguments.integer("seed")}

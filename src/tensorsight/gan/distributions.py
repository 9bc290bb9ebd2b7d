"""The real distributions a GAN learns: GAN Lab's presets, the mode-collapse benchmarks, 1-D ones.

Every 2-D distribution lives in the unit square (as GAN Lab draws it); 1-D ones on [0, 1].
A distribution samples with a seeded ``torch.Generator`` so experiments repeat exactly.

>>> import torch
>>> ring = distribution("ring")
>>> ring.sample(4, torch.Generator().manual_seed(0)).shape
torch.Size([4, 2])
>>> distribution("grid25").modes.shape
torch.Size([25, 2])
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from tensorsight.gan.settings import SettingsError

Sampler = Callable[[int, torch.Generator], torch.Tensor]
# Spread around each pen point of a drawing (GAN Lab's).
DRAWING_SD = 0.02
MAX_DRAWN_POINTS = 20_000


@dataclass(frozen=True)
class Distribution:
    """A named real distribution: ``sample(n, generator)`` gives an ``(n, dim)`` float32 tensor.

    ``modes`` (``(K, dim)``) and ``mode_sd`` are set for mixtures whose modes are counted
    ("modes covered", "good samples"); ``points`` holds a drawing's pen points.
    """

    name: str
    title: str
    dim: int
    sampler: Sampler = field(repr=False)
    modes: torch.Tensor | None = field(default=None, repr=False)
    mode_sd: float = 0.0
    points: np.ndarray | None = field(default=None, repr=False)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return self.sampler(n, generator)


def _randn(n: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    return torch.randn(n, dim, generator=generator)


def _rand(n: int, generator: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=generator)


def _line(n: int, g: torch.Generator) -> torch.Tensor:
    r, noise = _rand(n, g), _randn(n, 2, g)
    return torch.stack([0.8 - 0.75 * r, 0.6 + 0.3 * r], 1) + 0.01 * noise


def _gaussians(n: int, g: torch.Generator) -> torch.Tensor:
    first = (_rand(n, g) < 0.5)[:, None]
    noise = _randn(n, 2, g)
    a = torch.tensor([0.3, 0.7]) + 0.1 * noise
    b = torch.tensor([0.7, 0.4]) + torch.tensor([0.05, 0.2]) * noise
    return torch.where(first, a, b)


def _ring(n: int, g: torch.Generator) -> torch.Tensor:
    angle, noise = 2 * math.pi * _rand(n, g), _randn(n, 2, g)
    return (
        torch.stack([0.5 + 0.3 * torch.cos(angle), 0.45 + 0.25 * torch.sin(angle)], 1)
        + 0.025 * noise
    )


def _mixture(centres: torch.Tensor, sd: float, weights: torch.Tensor | None = None) -> Sampler:
    """Equal (or ``weights``) mixture of isotropic Gaussians around ``centres``."""
    probabilities = weights if weights is not None else torch.ones(len(centres))

    def sample(n: int, g: torch.Generator) -> torch.Tensor:
        which = torch.multinomial(probabilities, n, replacement=True, generator=g)
        return centres[which] + sd * _randn(n, centres.shape[1], g)

    return sample


def _ring8_modes() -> torch.Tensor:
    angles = torch.arange(8) * (2 * math.pi / 8)
    return torch.stack([0.5 + 0.35 * torch.cos(angles), 0.5 + 0.35 * torch.sin(angles)], 1)


def _grid25_modes() -> torch.Tensor:
    ticks = torch.linspace(0.1, 0.9, 5)
    return torch.cartesian_prod(ticks, ticks)


def _one_d(centres: list[float], sds: list[float]) -> Sampler:
    mean, sd = torch.tensor(centres), torch.tensor(sds)

    def sample(n: int, g: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(centres), (n,), generator=g)
        return (mean[which] + sd[which] * _randn(n, 1, g)[:, 0])[:, None]

    return sample


_DISJOINT = torch.tensor([[0.35, 0.75], [0.75, 0.6], [0.45, 0.35]])
RING8_SD = 0.02
GRID25_SD = 0.015

PRESETS: dict[str, Distribution] = {
    d.name: d
    for d in (
        Distribution("line", "Simple line", 2, _line),
        Distribution("gaussians", "Mixture of Gaussians", 2, _gaussians),
        Distribution("ring", "Ring", 2, _ring),
        Distribution(
            "disjoint",
            "Three disjoint regions",
            2,
            _mixture(_DISJOINT, 0.025, torch.tensor([0.333, 0.333, 0.334])),
        ),
        Distribution(
            "ring8",
            "8 Gaussians on a ring",
            2,
            _mixture(_ring8_modes(), RING8_SD),
            _ring8_modes(),
            RING8_SD,
        ),
        Distribution(
            "grid25",
            "5x5 grid of Gaussians",
            2,
            _mixture(_grid25_modes(), GRID25_SD),
            _grid25_modes(),
            GRID25_SD,
        ),
        Distribution("gauss1d", "1-D Gaussian", 1, _one_d([0.6], [0.08])),
        Distribution(
            "bimodal1d",
            "1-D two bumps",
            1,
            _one_d([0.3, 0.7], [0.05, 0.05]),
            torch.tensor([[0.3], [0.7]]),
            0.05,
        ),
    )
}


def drawn(points: object) -> Distribution:
    """The distribution of a drawing: a pen point chosen uniformly, plus N(0, 0.02²) per axis.

    ``points`` is an ``(N, 2)`` array-like of pen positions in the unit square (y up).
    """
    try:
        array = np.asarray(points, dtype=np.float32)
    except (TypeError, ValueError):
        raise SettingsError("A drawing is a list of [x, y] points.") from None
    if array.ndim != 2 or array.shape[1] != 2 or not 1 <= len(array) <= MAX_DRAWN_POINTS:
        raise SettingsError(
            f"A drawing is 1 to {MAX_DRAWN_POINTS} points [x, y]; got shape {list(array.shape)}."
        )
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise SettingsError("Drawn points must lie in the unit square (0 <= x, y <= 1).")
    pen = torch.from_numpy(array.copy())
    return Distribution(
        "drawing", "Drawn by you", 2, _mixture(pen, DRAWING_SD), points=array.copy()
    )


def distribution(spec: str | object) -> Distribution:
    """A preset by name, or a drawing from an ``(N, 2)`` array of points."""
    if isinstance(spec, str):
        if spec not in PRESETS:
            raise SettingsError(
                f"Unknown distribution {spec!r}; the presets are {', '.join(PRESETS)}."
            )
        return PRESETS[spec]
    return drawn(spec)

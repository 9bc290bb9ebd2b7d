"""How far the fakes are from the real data: KL and JS on a grid, and mode counters.

GAN Lab's "KL/JS by grid" filled the real histogram from a mis-indexed ``splice`` (it summed to
0.34) and let fakes outside [0, 1] wrap into the next row. Here both histograms cover a fixed
range and count every point: a point outside the range is counted in the border cell nearest
to it, so each histogram sums to 1.

>>> import torch
>>> points = torch.rand(500, 2, generator=torch.Generator().manual_seed(0))
>>> divergences(points, points)["js"]
0.0
"""

from __future__ import annotations

import torch

GRID_CELLS = 30
GRID_RANGE = (0.0, 1.0)
# Added to every cell before KL's logarithm: an empty fake cell under a real one would make KL
# infinite. The histograms are renormalised afterwards, so they still sum to 1.
KL_EPSILON = 1e-4
# A sample is "good" when it lies within this many standard deviations of a mode's centre.
GOOD_SD = 3.0
# A mode is "covered" when it holds at least this share of its fair share of the samples.
COVERED_SHARE = 0.125


def histogram(
    points: torch.Tensor, cells: int = GRID_CELLS, value_range: tuple[float, float] = GRID_RANGE
) -> torch.Tensor:
    """Share of ``points`` (``(N, dim)``, dim 1 or 2) in each cell: ``(cells,)*dim``, sums to 1.

    Cell ``[i, j]`` holds x in cell i and y in cell j; points outside the range count in the
    nearest border cell.
    """
    low, high = value_range
    index = ((points.detach().double() - low) / (high - low) * cells).floor().long()
    index = index.clamp(0, cells - 1)
    flat = index[:, 0]
    for axis in range(1, points.shape[1]):
        flat = flat * cells + index[:, axis]
    counts = torch.bincount(flat, minlength=cells ** points.shape[1]).double()
    return (counts / counts.sum()).reshape((cells,) * points.shape[1])


def _bits(p: torch.Tensor, q: torch.Tensor) -> float:
    """sum p log2(p / q) over the cells where p > 0 (0 log 0 = 0)."""
    mask = p > 0
    return float((p[mask] * torch.log2(p[mask] / q[mask])).sum())


def kl_js(p: torch.Tensor, q: torch.Tensor) -> tuple[float, float]:
    """KL(p || q) and JS(p, q) in bits for two histograms of the same shape, each summing to 1.

    >>> p = torch.tensor([0.5, 0.5, 0.0]); q = torch.tensor([0.0, 0.5, 0.5])
    >>> round(kl_js(p, q)[1], 6)
    0.5
    """
    p, q = p.flatten().double(), q.flatten().double()
    p_eps = (p + KL_EPSILON) / (1 + KL_EPSILON * p.numel())
    q_eps = (q + KL_EPSILON) / (1 + KL_EPSILON * q.numel())
    m = (p + q) / 2
    js = 0.5 * _bits(p, m) + 0.5 * _bits(q, m)
    return _bits(p_eps, q_eps), max(js, 0.0)


def divergences(real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
    """``{"kl", "js"}`` in bits between the grid histograms of ``real`` and ``fake`` points."""
    kl, js = kl_js(histogram(real), histogram(fake))
    return {"kl": kl, "js": js}


def mode_counts(fake: torch.Tensor, modes: torch.Tensor, sd: float) -> dict[str, float]:
    """``{"modes_covered", "modes", "good_share"}`` for fakes against mixture ``modes``.

    A fake is good within ``GOOD_SD`` standard deviations of its nearest mode; a mode is covered
    when at least ``COVERED_SHARE`` of an even share of the fakes are good samples on it.
    """
    distance, nearest = torch.cdist(fake.detach().float(), modes.float()).min(dim=1)
    good = distance <= GOOD_SD * sd
    per_mode = torch.bincount(nearest[good], minlength=len(modes))
    covered = int((per_mode >= COVERED_SHARE * len(fake) / len(modes)).sum())
    return {
        "modes_covered": covered,
        "modes": len(modes),
        "good_share": float(good.double().mean()),
    }

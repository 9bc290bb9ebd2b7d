"""KL and JS on the grid, checked against an independent NumPy computation."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tensorsight.gan.distributions import PRESETS  # noqa: E402
from tensorsight.gan.metrics import (  # noqa: E402
    GRID_CELLS,
    KL_EPSILON,
    divergences,
    histogram,
    kl_js,
    mode_counts,
)


def numpy_reference(real: np.ndarray, fake: np.ndarray) -> tuple[float, float]:
    """KL(real || fake) and JS in bits, written from the definitions with NumPy."""

    def hist(points: np.ndarray) -> np.ndarray:
        clipped = np.clip(points, 0.0, np.nextafter(1.0, 0.0))  # every point lands in a cell
        counts, _, _ = np.histogram2d(
            clipped[:, 0], clipped[:, 1], bins=GRID_CELLS, range=[[0, 1], [0, 1]]
        )
        return counts / counts.sum()

    p, q = hist(real), hist(fake)
    pe = (p + KL_EPSILON) / (p + KL_EPSILON).sum()
    qe = (q + KL_EPSILON) / (q + KL_EPSILON).sum()
    kl = float(np.sum(pe * np.log2(pe / qe)))
    m = (p + q) / 2
    js = 0.0
    for a in (p, q):
        for value, middle in zip(a.ravel(), m.ravel(), strict=True):
            if value > 0:
                js += 0.5 * value * math.log2(value / middle)
    return kl, js


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kl_js_match_an_independent_computation(seed):
    rng = np.random.default_rng(seed)
    real = rng.normal([0.4, 0.6], 0.15, (2000, 2))  # some points fall outside [0, 1]
    fake = rng.uniform(-1, 1, (2000, 2))  # like tanh outputs
    ours = divergences(
        torch.tensor(real, dtype=torch.float32), torch.tensor(fake, dtype=torch.float32)
    )
    kl, js = numpy_reference(real.astype(np.float32), fake.astype(np.float32))
    assert ours["kl"] == pytest.approx(kl, rel=1e-6)
    assert ours["js"] == pytest.approx(js, rel=1e-6)
    assert 0 < ours["js"] <= 1


def test_histogram_counts_every_point_even_outside_the_range():
    points = torch.tensor([[-0.5, 0.5], [1.5, 1.5], [0.5, 0.5], [0.999, 0.0]])
    grid = histogram(points)
    assert grid.shape == (GRID_CELLS, GRID_CELLS)
    assert float(grid.sum()) == pytest.approx(1.0)
    assert grid[0, 15] == grid[29, 29] == grid[15, 15] == grid[29, 0] == 0.25


def test_js_bounds_disjoint_is_one_bit_identical_is_zero():
    p, q = torch.zeros(900), torch.zeros(900)
    p[0] = q[1] = 1
    assert kl_js(p, q)[1] == pytest.approx(1.0)
    assert kl_js(p, p) == (pytest.approx(0.0, abs=1e-12), 0.0)


@pytest.mark.parametrize("name", ["line", "gaussians", "ring", "disjoint", "ring8", "grid25"])
def test_real_against_real_gives_a_small_floor(name):
    dist = PRESETS[name]
    g = torch.Generator().manual_seed(0)
    floor = divergences(dist.sample(2000, g), dist.sample(2000, g))
    assert 0 < floor["js"] < 0.12
    assert floor["kl"] < 0.4


def test_mode_counts_see_collapse_and_coverage():
    dist = PRESETS["grid25"]
    g = torch.Generator().manual_seed(0)
    everywhere = mode_counts(dist.sample(2000, g), dist.modes, dist.mode_sd)
    assert everywhere["modes_covered"] == 25 and everywhere["good_share"] > 0.95
    one_mode = dist.modes[3] + dist.mode_sd * torch.randn(2000, 2, generator=g)
    collapsed = mode_counts(one_mode, dist.modes, dist.mode_sd)
    assert collapsed["modes_covered"] == 1 and collapsed["good_share"] > 0.95
    spread = mode_counts(torch.rand(2000, 2, generator=g), dist.modes, dist.mode_sd)
    assert spread["good_share"] < 0.3

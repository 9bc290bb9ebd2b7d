"""``GanLab``: one GAN experiment on 2-D (or 1-D) points, trained in PyTorch, usable anywhere.

One "epoch" is GAN Lab's: ``k_d`` discriminator updates then ``k_g`` generator updates, each on
a fresh minibatch. Everything random comes from one seeded ``torch.Generator``, so the same seed
and settings give the same run. Each discriminator step draws, in order, the real batch, the
noise batch and (WGAN-GP) the interpolation weights; each generator step draws a noise batch.

>>> lab = GanLab("line", seed=0)
>>> lab.train(5)
>>> snap = lab.snapshot()
>>> snap["epoch"], snap["fake"].shape, snap["d_grid"].shape
(5, (150, 2), (30, 30))
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from tensorsight.gan.distributions import Distribution, distribution
from tensorsight.gan.losses import (
    d_loss,
    discriminator_value,
    g_loss,
    gradient_penalty,
    r1_penalty,
)
from tensorsight.gan.metrics import GRID_CELLS, GRID_RANGE, divergences, mode_counts
from tensorsight.gan.networks import gradient_norm, mlp
from tensorsight.gan.settings import GanSettings

VISIBLE_FAKES = 150  # the fixed noise vectors whose fakes (and arrows) are drawn
VISIBLE_REALS = 450
EVALUATION_POINTS = 2000  # points per side in KL/JS and the mode counters
MANIFOLD_CELLS = 20  # the noise lattice: 21 x 21 points, 20 x 20 quads
CURVE_POINTS = 101  # the 1-D discriminator curve
NOISE_MEAN, NOISE_SD = 0.5, 0.25  # Gaussian noise: N(0.5, 0.25²) cut to [0, 1], as GAN Lab's
HISTORY_KEYS = (
    "d_loss",
    "g_loss",
    "d_grad_norm",
    "g_grad_norm",
    "d_real_accuracy",
    "d_fake_accuracy",
)


class GanLab:
    """A generator and a discriminator learning ``distribution`` (a preset name or drawn points).

    ``settings`` (a :class:`GanSettings`) and keyword ``changes`` override the defaults.
    ``generator`` and ``discriminator`` are the ``nn.Module``s; ``history`` holds one value per
    epoch of each of ``HISTORY_KEYS``.
    """

    def __init__(
        self,
        distribution: str | object = "ring",
        seed: int = 0,
        *,
        settings: GanSettings | None = None,
        **changes: Any,
    ) -> None:
        self.seed = int(seed)
        self.settings = (settings or GanSettings()).replace(**changes)
        self.distribution = _resolve(distribution)
        self.restart()

    # ------------------------------------------------------------------ setup
    def restart(self) -> None:
        """New networks and optimisers from the seed; epoch 0; history cleared."""
        self.rng = torch.Generator().manual_seed(self.seed)
        s, dim = self.settings, self.distribution.dim
        self.generator = mlp(
            s.noise_dim, s.g_layers, s.g_neurons, dim, final=nn.Tanh(), generator=self.rng
        )
        self.discriminator = mlp(dim, s.d_layers, s.d_neurons, 1, generator=self.rng)
        self._fixed_samples()
        self._make_optimizers()
        self.epoch = 0
        self.history: dict[str, list[float]] = {key: [] for key in HISTORY_KEYS}
        self._last: dict[str, float] = dict.fromkeys(HISTORY_KEYS, math.nan)
        self._interpolates: tuple[torch.Tensor, torch.Tensor] | None = None

    def _fixed_samples(self) -> None:
        # Drawn from their own generator so that they do not depend on the training draws.
        fixed = torch.Generator().manual_seed(self.seed + 7919)
        self.visible_noise = self.noise(VISIBLE_FAKES, fixed)
        self.evaluation_noise = self.noise(EVALUATION_POINTS, fixed)
        self.visible_real = self.distribution.sample(VISIBLE_REALS, fixed)
        self.evaluation_real = self.distribution.sample(EVALUATION_POINTS, fixed)
        floor = divergences(
            self.evaluation_real, self.distribution.sample(EVALUATION_POINTS, fixed)
        )
        self.floor = {"kl_floor": floor["kl"], "js_floor": floor["js"]}

    def _make_optimizers(self) -> None:
        s = self.settings
        self.d_optimizer = _optimizer(s.d_optimizer, self.discriminator, s.d_lr)
        self.g_optimizer = _optimizer(s.g_optimizer, self.generator, s.g_lr)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """``n`` noise vectors: U(0, 1)^d, or N(0.5, 0.25²) cut to [0, 1] (GAN Lab's)."""
        shape = (n, self.settings.noise_dim)
        if self.settings.noise == "uniform":
            return torch.rand(shape, generator=generator)
        noise = torch.empty(shape)
        nn.init.trunc_normal_(noise, NOISE_MEAN, NOISE_SD, 0.0, 1.0, generator=generator)
        return noise

    # --------------------------------------------------------------- settings
    def update(self, **changes: Any) -> bool:
        """Apply setting ``changes``; returns True when the architecture changed (a restart).

        Loss, learning rates, optimisers and step counts change live, the weights kept.
        A new optimiser starts with fresh state; a new learning rate keeps Adam's moments.
        """
        new = self.settings.replace(**changes)
        old, self.settings = self.settings, new
        if new.needs_restart(old):
            self.restart()
            return True
        if (new.d_optimizer, new.g_optimizer) != (old.d_optimizer, old.g_optimizer):
            self._make_optimizers()
        for optimizer, lr in ((self.d_optimizer, new.d_lr), (self.g_optimizer, new.g_lr)):
            for group in optimizer.param_groups:
                group["lr"] = lr
        return False

    def set_distribution(self, spec: str | object) -> None:
        """Learn another distribution (a preset name or drawn points): a new experiment."""
        self.distribution = _resolve(spec)
        self.restart()

    # --------------------------------------------------------------- training
    def step_d(self) -> float:
        """One discriminator update on a fresh batch; returns its loss (penalty included)."""
        s = self.settings
        real = self.distribution.sample(s.batch_size, self.rng)
        with torch.no_grad():
            fake = self.generator(self.noise(s.batch_size, self.rng))
        r1 = s.r1_weight > 0 and s.loss != "wgan-gp"
        real.requires_grad_(r1)
        real_logits, fake_logits = self.discriminator(real), self.discriminator(fake)
        loss = d_loss(s.loss, real_logits[:, 0], fake_logits[:, 0], smoothing=s.smoothing)
        if r1:
            loss = loss + s.r1_weight * r1_penalty(real_logits, real)
        if s.loss == "wgan-gp":
            weight = torch.rand(s.batch_size, 1, generator=self.rng)
            between = weight * real + (1 - weight) * fake
            penalty, norms = gradient_penalty(self.discriminator, between)
            loss = loss + s.gp_weight * penalty
            self._interpolates = (between[:VISIBLE_FAKES].detach(), norms[:VISIBLE_FAKES])
        self.d_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._last["d_grad_norm"] = gradient_norm(list(self.discriminator.parameters()))
        self.d_optimizer.step()
        real_ok, fake_ok = _accuracy(s.loss, real_logits.detach()[:, 0], fake_logits.detach()[:, 0])
        self._last.update(
            d_loss=float(loss.detach()), d_real_accuracy=real_ok, d_fake_accuracy=fake_ok
        )
        return self._last["d_loss"]

    def step_g(self) -> float:
        """One generator update on a fresh noise batch; returns its loss."""
        s = self.settings
        fake = self.generator(self.noise(s.batch_size, self.rng))
        loss = g_loss(s.loss, self.discriminator(fake)[:, 0])
        parameters = list(self.generator.parameters())
        # autograd.grad, not backward: the discriminator's gradients are left untouched.
        for parameter, grad in zip(parameters, torch.autograd.grad(loss, parameters), strict=True):
            parameter.grad = grad
        self._last["g_grad_norm"] = gradient_norm(parameters)
        self.g_optimizer.step()
        self._last["g_loss"] = float(loss.detach())
        return self._last["g_loss"]

    def d_phase(self) -> None:
        """The discriminator's half of an epoch: ``k_d`` updates."""
        for _ in range(self.settings.k_d):
            self.step_d()

    def g_phase(self) -> None:
        """The generator's half of an epoch: ``k_g`` updates."""
        for _ in range(self.settings.k_g):
            self.step_g()

    def end_epoch(self) -> None:
        """Count the epoch and record the last values of ``HISTORY_KEYS``."""
        self.epoch += 1
        for key in HISTORY_KEYS:
            self.history[key].append(self._last[key])

    def train_epoch(self, *, d: bool = True, g: bool = True) -> None:
        """One epoch: ``k_d`` D updates (if ``d``) then ``k_g`` G updates (if ``g``)."""
        if d:
            self.d_phase()
        if g:
            self.g_phase()
        self.end_epoch()

    def train(self, epochs: int) -> None:
        """Run ``epochs`` epochs.

        >>> lab = GanLab("gaussians", seed=1); lab.train(3); lab.epoch
        3
        """
        for _ in range(epochs):
            self.train_epoch()

    # ------------------------------------------------------------------ views
    def discriminator_at(self, points: torch.Tensor) -> torch.Tensor:
        """D(x) as shown: a probability (or a critic score for WGAN-GP) at ``(N, dim)`` points."""
        with torch.no_grad():
            return discriminator_value(self.settings.loss, self.discriminator(points))[:, 0]

    def discriminator_gradients(self, points: torch.Tensor) -> torch.Tensor:
        """d D(x) / dx at each point: the way a fake there should move to look more real."""
        points = points.detach().clone().requires_grad_(True)
        value = discriminator_value(self.settings.loss, self.discriminator(points))
        (grad,) = torch.autograd.grad(value.sum(), points)
        return grad

    def grid_centres(self) -> torch.Tensor:
        """The cell centres of the D surface: ``(30*30, 2)``, x-major (cell [i, j] = x_i, y_j)."""
        low, high = GRID_RANGE
        ticks = low + (torch.arange(GRID_CELLS) + 0.5) * (high - low) / GRID_CELLS
        return torch.cartesian_prod(ticks, ticks)

    def snapshot(self) -> dict[str, Any]:
        """Plain data about the experiment now: scalars and float32 NumPy arrays.

        Keys: epoch, the last epoch's ``HISTORY_KEYS`` values, kl, js (bits, fakes vs real on
        the 30x30 grid) and their real-vs-real floors, modes_covered/modes/good_share (mixture
        presets), settings, distribution, dim, ``real`` (450 points), ``fake`` (150 fixed-noise
        fakes), ``gradients`` (dD/dx at each fake), ``d_grid`` (2-D: ``[30, 30]``, D at the cell
        centres, cell [i, j] = (x_i, y_j)) or ``d_curve`` (1-D: D at ``curve_x``),
        ``manifold`` (G on the 21x21 noise lattice, or 21 points for 1-D noise) with
        ``manifold_density`` (the fakes' density in each warped quad), and for WGAN-GP the last
        update's ``interpolates`` and their ``interpolate_norms``.
        """
        with torch.no_grad():
            fake = self.generator(self.visible_noise)
            evaluation = self.generator(self.evaluation_noise)
        snap: dict[str, Any] = {
            "epoch": self.epoch,
            "distribution": self.distribution.name,
            "dim": self.distribution.dim,
            "settings": self.settings.to_dict(),
            "d_scale": "critic" if self.settings.loss == "wgan-gp" else "probability",
            **{key: _finite(value) for key, value in self._last.items()},
            **divergences(self.evaluation_real, evaluation),
            **self.floor,
            "real": _array(self.visible_real),
            "fake": _array(fake),
            "gradients": _array(self.discriminator_gradients(fake)),
        }
        if self.distribution.modes is not None:
            snap.update(mode_counts(evaluation, self.distribution.modes, self.distribution.mode_sd))
        snap.update(self._surface() if self.distribution.dim == 2 else self._curve(evaluation))
        snap.update(self._manifold())
        if self.settings.loss == "wgan-gp" and self._interpolates is not None:
            snap["interpolates"] = _array(self._interpolates[0])
            snap["interpolate_norms"] = _array(self._interpolates[1])
        return snap

    def _surface(self) -> dict[str, np.ndarray]:
        values = self.discriminator_at(self.grid_centres())
        return {"d_grid": _array(values.reshape(GRID_CELLS, GRID_CELLS))}

    def _curve(self, evaluation: torch.Tensor) -> dict[str, np.ndarray]:
        from tensorsight.gan.metrics import histogram

        xs = torch.linspace(*GRID_RANGE, CURVE_POINTS)
        return {
            "curve_x": _array(xs),
            "d_curve": _array(self.discriminator_at(xs[:, None])),
            "real_density": _array(histogram(self.evaluation_real) * GRID_CELLS),
            "fake_density": _array(histogram(evaluation) * GRID_CELLS),
        }

    def _manifold(self) -> dict[str, np.ndarray]:
        """G on the noise lattice and the density of fakes in each warped cell."""
        ticks = torch.linspace(0, 1, MANIFOLD_CELLS + 1)
        two_d = self.settings.noise_dim == 2
        lattice = torch.cartesian_prod(ticks, ticks) if two_d else ticks[:, None]
        with torch.no_grad():
            warped = self.generator(lattice)
        out = {"noise_lattice": _array(lattice), "manifold": _array(warped)}
        if self.settings.noise_dim == 2 and self.distribution.dim == 2:
            out["manifold_density"] = _array(self._quad_density(warped, ticks))
        return out

    def _quad_density(self, warped: torch.Tensor, ticks: torch.Tensor) -> torch.Tensor:
        n = MANIFOLD_CELLS + 1
        grid = warped.reshape(n, n, 2)
        a, b, c, d = grid[:-1, :-1], grid[1:, :-1], grid[1:, 1:], grid[:-1, 1:]
        area = 0.5 * (_cross(a, b) + _cross(b, c) + _cross(c, d) + _cross(d, a)).abs()
        # The noise probability of each lattice cell, then spread over its warped area.
        edges = ticks if self.settings.noise == "uniform" else _normal_cdf(ticks)
        mass_1d = edges[1:] - edges[:-1]
        mass_1d = mass_1d / mass_1d.sum()
        mass = mass_1d[:, None] * mass_1d[None, :]
        return mass / area.clamp_min(1e-9)

    # ----------------------------------------------------------------- saving
    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The weights as flat ``g.*``/``d.*`` tensors (what a .safetensors file holds)."""
        tensors = {f"g.{k}": v for k, v in self.generator.state_dict().items()}
        tensors.update({f"d.{k}": v for k, v in self.discriminator.state_dict().items()})
        return {k: v.detach().clone().contiguous() for k, v in tensors.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        """Load weights written by :meth:`state_tensors`; shapes must match the settings."""
        self.generator.load_state_dict({k[2:]: v for k, v in tensors.items() if k[:2] == "g."})
        self.discriminator.load_state_dict({k[2:]: v for k, v in tensors.items() if k[:2] == "d."})
        self._make_optimizers()


def _resolve(spec: str | object) -> Distribution:
    return spec if isinstance(spec, Distribution) else distribution(spec)


def _optimizer(name: str, module: nn.Module, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(0.9, 0.999))
    return torch.optim.SGD(module.parameters(), lr=lr)


def _accuracy(loss: str, real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
    """Shares of real and fake points D classifies correctly.

    A probability says "real" above 0.5; a critic's score has no fixed threshold, so it is
    compared with the midpoint of the batch's mean real and mean fake scores.
    """
    threshold = 0.0 if loss != "wgan-gp" else float((real.mean() + fake.mean()) / 2)
    return float((real > threshold).double().mean()), float((fake <= threshold).double().mean())


def _cross(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    return p[..., 0] * q[..., 1] - p[..., 1] * q[..., 0]


def _normal_cdf(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * (1 + torch.erf((x - NOISE_MEAN) / (NOISE_SD * math.sqrt(2))))


def _array(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(torch.float32).numpy().copy()


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None

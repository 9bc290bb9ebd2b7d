"""The settings of one GAN Lab experiment, checked once so that training code can trust them.

>>> settings = GanSettings().replace(loss="lsq", d_lr=0.03)
>>> settings.loss, settings.d_lr
('lsq', 0.03)
>>> settings.needs_restart(GanSettings())
False
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

LOSSES = ("log", "minimax", "lsq", "wgan-gp")
OPTIMIZERS = ("sgd", "adam")
NOISES = ("uniform", "gaussian")
MAX_LAYERS = 6
MAX_NEURONS = 128
MAX_STEPS = 10
MAX_BATCH = 2048
# Changing one of these means new networks: the old weights no longer fit.
ARCHITECTURE_FIELDS = ("noise_dim", "noise", "g_layers", "g_neurons", "d_layers", "d_neurons")


class SettingsError(ValueError):
    """A setting with a bad name or value; ``str()`` is a sentence for the user (HTTP 400)."""

    status = 400


@dataclass(frozen=True)
class GanSettings:
    """Every knob of an experiment. Defaults were chosen by measurement (``bench/gan_lab.py``).

    Measured from scratch (README "GAN Lab", ``bench/gan_lab.py --convergence``): GAN Lab's own
    defaults (8 neurons, zero biases, SGD 0.1) and Adam (lr 0.001, beta1 0.5 or 0.9) stall or
    oscillate; SGD with D at 0.3 and G at 0.1, two D steps per epoch, 32-neuron networks whose
    first-layer kinks start inside the data (``networks.mlp``) and an R1 penalty of 0.1 on D
    converge on the line, the two Gaussians and drawn blobs for most seeds.
    ``g_layers``/``d_layers`` count the hidden layers for real (GAN Lab's "1" meant two).
    ``loss``: ``log`` (GAN Lab's: the discriminator's real term scaled by ``smoothing``,
    non-saturating generator), ``minimax`` (the same discriminator, saturating generator
    ``mean log(1 - D(G(z)))``), ``lsq`` (least squares on the sigmoid output), ``wgan-gp``
    (a critic with gradient penalty ``gp_weight``). ``r1_weight``: the R1 penalty
    ``r1_weight / 2 * mean |∇ logit D(x)|²`` on real points (Mescheder et al. 2018), which damps
    the oscillation plain GAN training never leaves; 0 is GAN Lab's, and WGAN-GP ignores it (its
    own penalty does that work).
    """

    noise_dim: int = 2
    noise: str = "gaussian"
    g_layers: int = 2
    g_neurons: int = 32
    d_layers: int = 2
    d_neurons: int = 32
    loss: str = "log"
    smoothing: float = 0.95
    gp_weight: float = 10.0
    r1_weight: float = 0.1
    d_optimizer: str = "sgd"
    g_optimizer: str = "sgd"
    d_lr: float = 0.3
    g_lr: float = 0.1
    k_d: int = 2
    k_g: int = 1
    batch_size: int = 150

    def __post_init__(self) -> None:
        _choice("noise", self.noise, NOISES)
        _choice("loss", self.loss, LOSSES)
        _choice("d_optimizer", self.d_optimizer, OPTIMIZERS)
        _choice("g_optimizer", self.g_optimizer, OPTIMIZERS)
        _whole("noise_dim", self.noise_dim, 1, 2)
        for name in ("g_layers", "d_layers"):
            _whole(name, getattr(self, name), 0, MAX_LAYERS)
        for name in ("g_neurons", "d_neurons"):
            _whole(name, getattr(self, name), 1, MAX_NEURONS)
        _whole("k_d", self.k_d, 0, MAX_STEPS)
        _whole("k_g", self.k_g, 0, MAX_STEPS)
        _whole("batch_size", self.batch_size, 2, MAX_BATCH)
        for name in ("d_lr", "g_lr"):
            _number(name, getattr(self, name), 1e-6, 10.0)
        _number("smoothing", self.smoothing, 0.5, 1.0)
        _number("gp_weight", self.gp_weight, 0.0, 1000.0)
        _number("r1_weight", self.r1_weight, 0.0, 1000.0)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GanSettings:
        """Settings from JSON-like data; unknown names are refused, not ignored."""
        return cls().replace(**values)

    def replace(self, **changes: Any) -> GanSettings:
        """A copy with ``changes`` applied and checked."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            known = ", ".join(f.name for f in fields(self))
            raise SettingsError(f"Unknown setting {unknown[0]!r}; the settings are {known}.")
        return replace(self, **changes)

    def needs_restart(self, other: GanSettings) -> bool:
        """Whether going from ``other`` to these settings needs new networks."""
        return any(getattr(self, name) != getattr(other, name) for name in ARCHITECTURE_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data."""
        return asdict(self)


def _choice(name: str, value: object, options: tuple[str, ...]) -> None:
    if value not in options:
        raise SettingsError(f"{name} must be one of {', '.join(options)}, not {value!r}.")


def _whole(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise SettingsError(f"{name} must be a whole number from {low} to {high}, not {value!r}.")


def _number(name: str, value: object, low: float, high: float) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or not low <= float(value) <= high:  # type: ignore[arg-type]
        raise SettingsError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}.")

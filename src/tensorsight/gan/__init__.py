"""GAN Lab served by Python: a tiny GAN on 2-D (or 1-D) points, trained live in PyTorch.

>>> from tensorsight.gan import GanLab        # doctest: +SKIP
>>> lab = GanLab("ring", seed=0)              # doctest: +SKIP
>>> lab.train(100); 0 <= lab.snapshot()["js"] <= 1  # doctest: +SKIP
True

Everything here needs torch; it is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes

if TYPE_CHECKING:
    from tensorsight.gan.distributions import PRESETS, Distribution
    from tensorsight.gan.frames import frame
    from tensorsight.gan.lab import GanLab
    from tensorsight.gan.metrics import divergences, kl_js, mode_counts
    from tensorsight.gan.pretrained import load_pretrained, pretrained_names
    from tensorsight.gan.session import GanSession
    from tensorsight.gan.settings import GanSettings, SettingsError

__all__ = [
    "PRESETS",
    "Distribution",
    "GanLab",
    "GanSession",
    "GanSettings",
    "SettingsError",
    "divergences",
    "frame",
    "kl_js",
    "load_pretrained",
    "mode_counts",
    "pretrained_names",
]

__getattr__ = lazy_attributes(
    __name__,
    {
        "PRESETS": "tensorsight.gan.distributions",
        "Distribution": "tensorsight.gan.distributions",
        "frame": "tensorsight.gan.frames",
        "GanLab": "tensorsight.gan.lab",
        "divergences": "tensorsight.gan.metrics",
        "kl_js": "tensorsight.gan.metrics",
        "mode_counts": "tensorsight.gan.metrics",
        "load_pretrained": "tensorsight.gan.pretrained",
        "pretrained_names": "tensorsight.gan.pretrained",
        "GanSession": "tensorsight.gan.session",
        "GanSettings": "tensorsight.gan.settings",
        "SettingsError": "tensorsight.gan.settings",
    },
)

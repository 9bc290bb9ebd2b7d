"""Pretrained starting points: weights we trained ourselves, shipped as tiny .safetensors files.

Each file holds the ``g.*``/``d.*`` tensors of a :class:`GanLab` and, in its metadata, the
distribution, seed, epoch and settings it was trained with (plain JSON: nothing is unpickled).
``python -m tensorsight.gan.pretrain`` writes them (see that module).

>>> lab = load_pretrained("line")
>>> lab.epoch > 0
True
"""

from __future__ import annotations

import json
from pathlib import Path

from tensorsight.gan.lab import GanLab
from tensorsight.gan.settings import GanSettings, SettingsError

PRETRAINED_DIR = Path(__file__).parent / "pretrained"


def pretrained_names() -> list[str]:
    """The presets that have a shipped starting point."""
    return sorted(path.stem for path in PRETRAINED_DIR.glob("*.safetensors"))


def save_lab(lab: GanLab, path: Path) -> None:
    """Write ``lab``'s weights and what it was trained with to ``path`` (.safetensors)."""
    from safetensors.torch import save_file

    metadata = {
        "distribution": lab.distribution.name,
        "seed": str(lab.seed),
        "epoch": str(lab.epoch),
        "settings": json.dumps(lab.settings.to_dict()),
    }
    save_file(lab.state_tensors(), str(path), metadata=metadata)


def load_lab(path: Path) -> GanLab:
    """A :class:`GanLab` restored from a file written by :func:`save_lab` (drawings excluded)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    settings = GanSettings.from_dict(json.loads(metadata["settings"]))
    lab = GanLab(metadata["distribution"], int(metadata["seed"]), settings=settings)
    lab.load_state_tensors(load_file(str(path)))
    lab.epoch = int(metadata["epoch"])
    return lab


def load_pretrained(name: str) -> GanLab:
    """The shipped starting point for preset ``name``."""
    path = PRETRAINED_DIR / f"{name}.safetensors"
    if not path.is_file():
        raise SettingsError(
            f"There is no pretrained start for {name!r}; there is one for "
            f"{', '.join(pretrained_names())}."
        )
    return load_lab(path)

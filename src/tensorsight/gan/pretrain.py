"""Train the shipped starting points: ``python -m tensorsight.gan.pretrain [--epochs N]``.

For each preset, a few seeds are trained from scratch with the default settings; every
``CHECK_EVERY`` epochs the JS divergence is measured and the best moment of each seed is kept
(GANs oscillate, so a run's best moment is a better start than its last). A start must also
*stay* good when the page plays it: each seed's best moment is trained ``--hold`` epochs more
and scored by the worst JS seen then (and, on the mixtures, the fewest modes covered). The
steadiest start over all seeds is written to ``pretrained/<preset>.safetensors`` (about 11 KB).
The 1-D presets use 1-D noise. Presets train in parallel (``--jobs``), one torch thread each.
"""

from __future__ import annotations

import argparse
import copy
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch

from tensorsight.gan.distributions import PRESETS
from tensorsight.gan.lab import GanLab
from tensorsight.gan.pretrained import PRETRAINED_DIR, save_lab

CHECK_EVERY = 250


@dataclass
class Start:
    """A candidate starting point and how it fared when trained on."""

    lab: GanLab
    js: float  # at the moment kept
    worst_js: float  # the worst while held for more epochs
    fewest_modes: int  # the fewest modes covered meanwhile (mixtures; 0 otherwise)

    def score(self) -> tuple[int, float]:
        """Lower is better: every mode kept first, then the worst JS."""
        return (-self.fewest_modes, max(self.js, self.worst_js))


def best_moment(preset: str, seed: int, epochs: int) -> tuple[float, GanLab]:
    """``(js, lab)`` at the check of one seed's run with the lowest JS."""
    noise_dim = 1 if PRESETS[preset].dim == 1 else 2
    lab = GanLab(preset, seed, noise_dim=noise_dim)
    best: tuple[float, GanLab] | None = None
    for _ in range(epochs // CHECK_EVERY):
        lab.train(CHECK_EVERY)
        js = lab.snapshot()["js"]
        if best is None or js < best[0]:
            best = (js, copy.deepcopy(lab))
    assert best is not None
    return best


def held(js: float, lab: GanLab, hold: int) -> Start:
    """``lab`` scored by training a copy of it ``hold`` epochs more (as pressing play does)."""
    trial, worst, fewest = copy.deepcopy(lab), js, lab.snapshot().get("modes_covered", 0)
    for _ in range(hold // CHECK_EVERY):
        trial.train(CHECK_EVERY)
        snap = trial.snapshot()
        worst, fewest = max(worst, snap["js"]), min(fewest, snap.get("modes_covered", 0))
    return Start(lab, js, worst, fewest)


def pretrain(preset: str, epochs: int, seeds: int, hold: int, output: Path) -> str:
    """Train, choose and write ``preset``'s start; returns a line saying what was kept."""
    torch.set_num_threads(1)
    starts = [held(*best_moment(preset, seed, epochs), hold) for seed in range(seeds)]
    start = min(starts, key=Start.score)
    path = output / f"{preset}.safetensors"
    save_lab(start.lab, path)
    modes = f", modes >= {start.fewest_modes}" if start.fewest_modes else ""
    return (
        f"{preset}: kept seed {start.lab.seed} at epoch {start.lab.epoch}, JS {start.js:.3f} "
        f"(floor {start.lab.floor['js_floor']:.3f}), worst JS {start.worst_js:.3f} over "
        f"{hold} more epochs{modes}; {path.stat().st_size} bytes"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--hold", type=int, default=2000, help="epochs a start must stay good")
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--output", type=Path, default=PRETRAINED_DIR)
    parser.add_argument("--jobs", type=int, default=2, help="presets trained at once")
    args = parser.parse_args(argv)
    args.output.mkdir(parents=True, exist_ok=True)
    presets = args.presets.split(",")
    with ProcessPoolExecutor(args.jobs) as pool:
        train = partial(
            pretrain, epochs=args.epochs, seeds=args.seeds, hold=args.hold, output=args.output
        )
        for line in pool.map(train, presets):
            print(line, flush=True)


if __name__ == "__main__":
    main()

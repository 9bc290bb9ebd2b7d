"""Train the shipped starting points: ``python -m tensorsight.gan.pretrain [--epochs N]``.

For each preset, a few seeds are trained from scratch with the default settings; every
``CHECK_EVERY`` epochs the JS divergence is measured, and the state with the lowest JS over all
seeds and checks is written to ``pretrained/<preset>.safetensors`` (about 11 KB). GANs
oscillate, so the best moment of a run is a better start than its last one. The 1-D presets use
1-D noise. Run it on one torch thread; it prints what it kept.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch

from tensorsight.gan.distributions import PRESETS
from tensorsight.gan.lab import GanLab
from tensorsight.gan.pretrained import PRETRAINED_DIR, save_lab

CHECK_EVERY = 250


def best_run(preset: str, *, epochs: int, seeds: range) -> GanLab:
    """The lab at the moment (seed, epoch) closest to the real distribution (lowest JS)."""
    best: tuple[float, GanLab] | None = None
    for seed in seeds:
        noise_dim = 1 if PRESETS[preset].dim == 1 else 2
        lab = GanLab(preset, seed, noise_dim=noise_dim)
        for _ in range(epochs // CHECK_EVERY):
            lab.train(CHECK_EVERY)
            js = lab.snapshot()["js"]
            if best is None or js < best[0]:
                best = (js, copy.deepcopy(lab))
        if best is not None:
            print(f"  {preset} seed {seed}: best so far JS {best[0]:.3f} bits", flush=True)
    assert best is not None
    return best[1]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--output", type=Path, default=PRETRAINED_DIR)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    args.output.mkdir(parents=True, exist_ok=True)
    for preset in args.presets.split(","):
        lab = best_run(preset, epochs=args.epochs, seeds=range(args.seeds))
        path = args.output / f"{preset}.safetensors"
        save_lab(lab, path)
        print(
            f"{preset}: kept seed {lab.seed}, JS {lab.snapshot()['js']:.3f} "
            f"(floor {lab.floor['js_floor']:.3f}), {path.stat().st_size} bytes",
            flush=True,
        )


if __name__ == "__main__":
    main()

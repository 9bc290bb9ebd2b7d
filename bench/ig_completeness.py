"""Integrated gradients' completeness gap per path rule and baseline on the shipped samples.

For every shipped sample of each model (TinyVGG: 20 Fashion-MNIST images; MobileNetV2: 15)
and each rule and baseline, prints the gap |sum(attribution) - (f(x) - f(baseline))| as a
percentage of |f(x) - f(baseline)| at ``--steps`` points, for the predicted class, and the
score change itself (a baseline that is nearly the input explains almost nothing, however
complete). Rules: ``adaptive`` and ``gauss-legendre``. Baselines: ``black`` (zeros) and
``blur:SIGMA`` (the input under a gaussian blur of SIGMA pixels). Goal (issue 12): within 1%
at 64 points.

    python bench/ig_completeness.py [--models tinyvgg mobilenet_v2] [--steps 64]
        [--rules adaptive gauss-legendre] [--baselines black blur:4] [--threads 2]
        [--per-sample]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
from typing import Any

import torch
from PIL import Image

from tensorsight.attribution import attribute
from tensorsight.attribution.methods import PATH_RULES
from tensorsight.models import load_model


def options_for(baseline: str) -> dict[str, Any]:
    """``attribute`` options of one baseline spelled ``black`` or ``blur:SIGMA``."""
    if baseline == "black":
        return {"baseline": None}
    name, _, sigma = baseline.partition(":")
    if name != "blur" or not sigma:
        raise SystemExit(f"unknown baseline {baseline!r}: use black or blur:SIGMA")
    return {"baseline": "blur", "blur_sigma": float(sigma)}


def gap(
    model: torch.nn.Module, x: torch.Tensor, steps: int, baseline: str, rule: str
) -> tuple[float, float]:
    """(gap in % of the score change, the score change) for the predicted class."""
    result = attribute(
        model,
        x,
        "integrated_gradients",
        steps=steps,
        batch_size=16,
        rule=rule,
        **options_for(baseline),
    )
    change = result.details["score"] - result.details["baseline_score"]
    return 100 * abs(result.details["delta"]) / abs(change), change


def bench_model(
    name: str, steps: int, baselines: list[str], rules: list[str], per_sample: bool
) -> None:
    """One table: per baseline, median and max gap and the median score change."""
    bundle = load_model(name)
    inputs = [
        (sample.id, bundle.preprocessing.to_tensor(Image.open(sample.path)))
        for sample in bundle.samples
    ]
    print(f"\n{name}: {len(inputs)} samples, {steps} points, predicted class")
    print(
        f"{'rule':15} {'baseline':12} {'median gap %':>13} {'max gap %':>10} {'within 1%':>10} "
        f"{'median change':>14}"
    )
    for rule, baseline in itertools.product(rules, baselines):
        gaps, changes = [], []
        for sample_id, x in inputs:
            percent, change = gap(bundle.model, x, steps, baseline, rule)
            gaps.append(percent)
            changes.append(change)
            if per_sample:
                print(f"    {baseline:10} {sample_id:24} gap {percent:8.3f}%  change {change:9.3f}")
        within = sum(value <= 1 for value in gaps)
        print(
            f"{rule:15} {baseline:12} {statistics.median(gaps):13.3f} {max(gaps):10.3f} "
            f"{within:>5}/{len(gaps):<4} {statistics.median(changes):14.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tinyvgg", "mobilenet_v2"])
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--baselines", nargs="+", default=["black", "blur:4"])
    parser.add_argument("--rules", nargs="+", default=list(PATH_RULES))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--per-sample", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.models:
        bench_model(name, args.steps, args.baselines, args.rules, args.per_sample)


if __name__ == "__main__":
    main()

"""Time per attribution method on TinyVGG (64x64) and MobileNetV2 (224x224), beside a bare
forward + backward of the same model.

Each figure is the median of ``--repeats`` runs (after one warm-up) of
``tensorsight.attribute``; "forward+backward" is ``model(x)[0, c].backward()`` with the input
requiring gradients. Grad-CAM is timed with the run's capture given (``graph=``, as the
explainer has one for every run) and, separately, capturing first. Goals (2 cores): saliency and
Grad-CAM within 1.5x a forward+backward; integrated gradients with 32 steps under 3 s on
MobileNetV2 (batched).

    python bench/attribution.py [--repeats 5] [--models tinyvgg mobilenet_v2] [--threads 2]
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable

import torch

from tensorsight.attribution import attribute
from tensorsight.capturing import capture
from tensorsight.models import load_model

SIZES = {"tinyvgg": (1, 1, 64, 64), "mobilenet_v2": (1, 3, 224, 224)}
CASES: list[tuple[str, str, dict[str, object]]] = [
    ("saliency", "saliency", {}),
    ("gradient_x_input", "gradient_x_input", {}),
    ("gradcam (capture given)", "gradcam", {"given": True}),
    ("gradcam (captures first)", "gradcam", {}),
    ("gradcam++ (capture given)", "gradcam++", {"given": True}),
    ("smoothgrad 25", "smoothgrad", {"samples": 25}),
    ("integrated_gradients 32", "integrated_gradients", {"steps": 32}),
    ("occlusion (default window)", "occlusion", {}),
]


def median_seconds(work: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``work()`` over ``repeats`` runs after one warm-up."""
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_model(name: str, repeats: int) -> None:
    """Print one table for one model."""
    model = load_model(name).model
    x = torch.rand(SIZES[name], generator=torch.Generator().manual_seed(0))
    graph = capture(model, x)

    def forward_backward() -> None:
        inputs = x.clone().requires_grad_(True)
        model(inputs)[0, 0].backward()

    bare = median_seconds(forward_backward, repeats)
    print(f"\n{name} {list(x.shape)}: forward+backward {bare * 1000:.1f} ms")
    print(f"{'method':32} {'ms':>10} {'x fwd+bwd':>10}")
    for label, method, options in CASES:
        options = dict(options)
        given = {"graph": graph} if options.pop("given", False) else {}
        runs = 1 if method in ("smoothgrad", "occlusion") and name == "mobilenet_v2" else repeats
        work = functools.partial(attribute, model, x, method, **given, **options)
        seconds = median_seconds(work, runs)
        print(f"{label:32} {seconds * 1000:10.1f} {seconds / bare:10.2f}")
    for param in model.parameters():  # forward_backward accumulated these
        param.grad = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in args.models:
        bench_model(name, args.repeats)


if __name__ == "__main__":
    main()

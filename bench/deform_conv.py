"""How much slower is ``tensorsight.ops.deform_conv2d`` than ``F.conv2d`` of the same shape?

Goal: within 4x on CPU. Prints the best-of-N forward and forward+backward times and their ratio,
in wall-clock time and in this process's CPU time (steadier on a shared machine), for TinyVGG's
two deformable layers (batch 1 as the explainer runs them, and batch 128 as training does) and a
64-channel 56x56 layer (ResNet's first stage). The offsets are random (about a pixel), so most
taps read between pixels; the plain convolution gets the same input, weight and bias.

    python bench/deform_conv.py [--repeats 7] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tensorsight.ops import deform_conv2d, torchvision_deform_conv2d


@dataclass(frozen=True)
class Shape:
    name: str
    batch: int
    channels: int
    size: int
    padding: int


SHAPES = (
    Shape("TinyVGG conv_2_1 (10ch 30x30), batch 1", 1, 10, 30, 0),
    Shape("TinyVGG conv_2_2 (10ch 28x28), batch 1", 1, 10, 28, 0),
    Shape("TinyVGG conv_2_1 (10ch 30x30), batch 128", 128, 10, 30, 0),
    Shape("64ch 56x56, padding 1, batch 1", 1, 64, 56, 1),
    Shape("64ch 56x56, padding 1, batch 8", 8, 64, 56, 1),
)


def timed(run: Callable[[], None], repeats: int) -> tuple[float, float]:
    """Best (wall seconds, CPU seconds) of ``repeats`` runs after one warm-up: on a shared
    machine the fastest run is the one least disturbed by other processes."""
    run()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def cases(shape: Shape) -> dict[str, Callable[[bool], Callable[[], None]]]:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(shape.batch, shape.channels, shape.size, shape.size, generator=generator)
    weight = torch.randn(shape.channels, shape.channels, 3, 3, generator=generator) * 0.1
    bias = torch.randn(shape.channels, generator=generator)
    out = shape.size + 2 * shape.padding - 2
    offset = torch.randn(shape.batch, 18, out, out, generator=generator)

    def make(op: Callable[..., torch.Tensor], tensors: tuple[torch.Tensor, ...]):
        def builder(backward: bool) -> Callable[[], None]:
            leaves = [t.detach().requires_grad_(backward) for t in tensors]

            def run() -> None:
                result = op(*leaves)
                if backward:
                    result.sum().backward()

            return run

        return builder

    return {
        "conv2d": make(lambda x, w, b: F.conv2d(x, w, b, padding=shape.padding), (x, weight, bias)),
        "deform_conv2d": make(
            lambda x, o, w, b: deform_conv2d(x, o, w, b, padding=shape.padding),
            (x, offset, weight, bias),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backend = "torchvision" if torchvision_deform_conv2d() else "pure torch (grid_sample)"
    print(f"torch {torch.__version__}, {args.threads} threads, deform_conv2d backend: {backend}")
    print(
        f"{'shape':44} {'pass':17} {'conv2d ms':>10} {'deform ms':>10} {'wall x':>7} {'cpu x':>7}"
    )
    worst = 0.0
    for shape in SHAPES:
        builders = cases(shape)
        for backward in (False, True):
            plain = timed(builders["conv2d"](backward), args.repeats)
            deform = timed(builders["deform_conv2d"](backward), args.repeats)
            wall_ratio, cpu_ratio = deform[0] / plain[0], deform[1] / max(plain[1], 1e-9)
            worst = max(worst, cpu_ratio)
            label = "forward+backward" if backward else "forward"
            print(
                f"{shape.name:44} {label:17} {plain[0] * 1e3:10.2f} {deform[0] * 1e3:10.2f} "
                f"{wall_ratio:7.2f} {cpu_ratio:7.2f}"
            )
    print(f"largest CPU-time ratio {worst:.2f}x (goal: within 4x)")


if __name__ == "__main__":
    main()

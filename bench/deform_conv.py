"""How much slower is ``tensorsight.ops.deform_conv2d`` than ``F.conv2d`` of the same shape?

Goal: within 4x on CPU. Prints the median forward and forward+backward times (wall clock) and
their ratios to conv2d in wall time and in this process's CPU time (steadier on a shared
machine), of what deform_conv2d runs, of both pure-torch designs (grid_sample + matmul; corner
gather + tiled convolution with a hand-written backward), each in its cache-sized chunks, and
of the narrow design's sampling alone (its grid and grid_sample, no weights: what it cannot
skip), for TinyVGG's two deformable layers (batch 1 as the explainer runs them, and batch 128
as training does) and a 64-channel 56x56 layer (ResNet's first stage). The offsets are random
(about a pixel), so most taps read between pixels; the plain convolution gets the same input,
weight and bias.

    python bench/deform_conv.py [--repeats 7] [--threads 2]

Measured 2026-12-02, 1 thread, deform_conv2d's CPU-time ratio to conv2d, forward /
forward+backward, before (main at 37683e4) -> after, each version and conv2d interleaved for
11 rounds in one process; run A at 16:04 UTC (load 1.0 from other sessions, the gradient of
sum()), run B at 16:08 (load 1.3, this bench's dense gradient):

                                     run A                      run B
    TinyVGG 10ch 30x30, batch 1      5.6 / 4.3  ->  4.7 / 4.0   5.8 / 4.5  ->  4.9 / 4.2
    TinyVGG 10ch 28x28, batch 1      5.7 / 4.2  ->  4.9 / 3.9   6.9 / 5.3  ->  5.6 / 5.0
    TinyVGG 10ch 30x30, batch 128    8.2 / 6.4  ->  5.6 / 5.3  12.3 / 6.9  ->  6.4 / 5.8
    64ch 56x56, batch 1              2.0 / 3.3  ->  1.9 / 2.8   2.0 / 2.8  ->  1.9 / 2.7
    64ch 56x56, batch 8              2.1 / 3.3  ->  1.8 / 3.2   2.1 / 3.3  ->  1.7 / 3.2

The ratios move between runs mostly with conv2d's own time (at batch 128, 3.3 to 5.7 ms
forward minutes apart): this bench itself at load 1.7-2.0 gave 8.6 / 6.8 at batch 128.

Where 4x stays out of reach it is the sampling itself. The "sampling only" column (the grid and
grid_sample, in the same chunks, no weights) costs, in the same run, 3.5x conv2d forward at
batch 1 (0.13 vs 0.04 ms; 2.9-3.0x forward+backward) and 7.6x at batch 128 (25 vs 3.3 ms;
3.9x forward+backward); the batched product with the weights adds about 0.6x more at batch 1
(24 us), so forward there cannot go below about 4x in this design. The gather design's
``embedding_bag`` alone is 15 ms at batch 128 (4.3x) before its index arithmetic. conv2d reads
each input pixel from cache at fixed strides, while a deformable layer must compute, per
sampling point, a fractional position, four corner weights and four reads, for only 10
channels.

On 2 threads the machine could not be measured: another process held about one core (load 1-5
through the session), so each OpenMP region waited on a descheduled thread (conv2d took 16 ms
per call at batch 1) or, with OMP_WAIT_POLICY=passive, ran no faster than on one thread
(conv2d 4.8 ms forward at batch 128 on both; grid_sample forward and backward on 29 images
3.2 and 10.4 ms at 2 threads, 3.2 and 10.8 at 1). The passive 2-thread wall ratios (16:08,
load 1.3-2.1) were before -> after 3.9-4.0 / 3.3 -> 3.2 / 3.0-3.1 at batch 1, 8.8 / 6.0 ->
6.3 / 5.0 at batch 128, 2.0 / 2.9 -> 1.9 / 2.8 and 2.1 / 3.6 -> 2.1 / 3.5 at 64 channels: no
test of the goal on 2 free cores. One thing 2 threads did show (profiled): with sum()'s
expanded gradient the batched products' backward loops image by image, 25 ms at 1 thread and
48 ms at 2; a dense gradient, as in training, keeps them batched.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tensorsight.ops import deform_conv, deform_conv2d, torchvision_deform_conv2d

chunked = deform_conv._in_chunks  # each design as deform_conv2d_torch runs it: batches in chunks


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
    """Median (wall seconds, CPU seconds) of ``repeats`` runs after one warm-up. Runs shorter
    than a millisecond are timed in batches, so that the clock's resolution does not count."""
    run()
    start = time.perf_counter()
    run()
    batch = max(1, int(1e-3 / max(time.perf_counter() - start, 1e-9)))
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(batch):
            run()
        walls.append((time.perf_counter() - wall) / batch)
        cpus.append((time.process_time() - cpu) / batch)
    return statistics.median(walls), statistics.median(cpus)


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
                    # A dense gradient, as the layers after it give in training: sum()'s
                    # is one expanded value, on which batched products fall back to a loop.
                    result.backward(torch.ones_like(result))

            return run

        return builder

    def deform(op: Callable[..., torch.Tensor]) -> Callable[[bool], Callable[[], None]]:
        return make(
            lambda x, o, w, b: op(x, o, w, b, 1, shape.padding, 1, None),
            (x, offset, weight, bias),
        )

    def sample(x: torch.Tensor, o: torch.Tensor, *_: object) -> torch.Tensor:
        grid = deform_conv._sampling_grid(o, (3, 3), 1, shape.padding, 1, x.shape[2:])
        # Summed per image: a batch of sampled values would cost a copy (cat) of its own.
        return F.grid_sample(x.transpose(2, 3), grid, align_corners=False).sum((1, 2, 3))

    # The two pure-torch designs side by side (deform_conv2d_torch picks one by width).
    return {
        "conv2d": make(lambda x, w, b: F.conv2d(x, w, b, padding=shape.padding), (x, weight, bias)),
        "deform_conv2d": deform(deform_conv2d),
        "grid_sample": deform(functools.partial(chunked, deform_conv._deform_conv2d_grid_sample)),
        "gather": deform(functools.partial(chunked, deform_conv._deform_conv2d_gather)),
        # What the narrow design cannot skip: its grid and grid_sample, in the same chunks,
        # without the weights' product.
        "sampling only": deform(functools.partial(chunked, sample)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    backend = "torchvision" if torchvision_deform_conv2d() else "pure torch"
    print(f"torch {torch.__version__}, {args.threads} threads, deform_conv2d backend: {backend}")
    print("median ms (wall); ratios to conv2d: wall time / CPU time (steadier on a shared machine)")
    names = ("conv2d", "deform_conv2d", "grid_sample", "gather", "sampling only")
    print(f"{'shape':41} {'pass':8} " + " ".join(f"{name:>20}" for name in names))
    worst = [0.0, 0.0]
    for shape in SHAPES:
        builders = cases(shape)
        for backward in (False, True):
            times = {name: timed(builders[name](backward), args.repeats) for name in names}
            plain = [max(value, 1e-9) for value in times["conv2d"]]
            ratios = {name: [times[name][i] / plain[i] for i in (0, 1)] for name in names}
            worst = [max(worst[i], ratios["deform_conv2d"][i]) for i in (0, 1)]
            cells = [f"{times['conv2d'][0] * 1e3:20.2f}"] + [
                f"{times[name][0] * 1e3:8.2f} ({ratios[name][0]:4.1f}/{ratios[name][1]:4.1f}x)"
                for name in names[1:]
            ]
            label = "fwd+bwd" if backward else "fwd"
            print(f"{shape.name:41} {label:8} " + " ".join(cells))
    print(
        f"deform_conv2d's largest ratio: {worst[0]:.2f}x wall, {worst[1]:.2f}x CPU time "
        "(goal: within 4x)"
    )


if __name__ == "__main__":
    main()

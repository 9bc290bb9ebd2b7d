"""How much slower is ``capture()`` than a bare forward pass?  Goal: at most 1.5x.

Prints the median of repeated runs for TinyVGG (1x64x64) and a ResNet-18-sized network
(3x224x224, defined here: torchvision does not import in this environment), and the ratio, in
wall-clock time and in this process's CPU time (steadier on a shared machine; with one thread it
is the work done, while wall time also counts waiting for other processes).

    python bench/capture_overhead.py [--repeats 15] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from tensorsight.capturing import capture
from tensorsight.models.tinyvgg import TinyVGG


class BasicBlock(nn.Module):
    """ResNet-18's block, with its functional residual add and in-place ReLUs."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + identity)


class ResNet18(nn.Module):
    """ResNet-18 layout (11.7 M parameters) for 224x224 RGB inputs."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, 2, 3, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        widths = [64, 128, 256, 512]
        stages, in_channels = [], 64
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            stages.append(
                nn.Sequential(BasicBlock(in_channels, width, stride), BasicBlock(width, width, 1))
            )
            in_channels = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


def interleaved_medians(
    runs: list[Callable[[], object]], repeats: int
) -> list[tuple[float, float]]:
    """Median (wall, CPU) seconds of each run, timed in turns so load slows them alike."""
    for run in runs:
        run()  # warm-up: allocator, kernels
    times: list[list[tuple[float, float]]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, samples in zip(runs, times, strict=True):
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            samples.append((time.perf_counter() - wall, time.process_time() - cpu))
    return [
        (
            statistics.median(wall for wall, _ in samples),
            statistics.median(cpu for _, cpu in samples),
        )
        for samples in times
    ]


def bare_forward(model: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.no_grad():
            return model(x)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch intra-op threads (1 gives steady timings on a busy machine)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [
        ("TinyVGG 1x64x64", TinyVGG(in_channels=1, input_size=64), (1, 1, 64, 64)),
        ("ResNet-18 3x224x224", ResNet18(), (1, 3, 224, 224)),
    ]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats}")
    for label, model, shape in cases:
        model.eval()
        x = torch.randn(shape)
        bare, captured = interleaved_medians(
            [bare_forward(model, x), lambda model=model, x=x: capture(model, x)], args.repeats
        )
        for clock, plain, recorded in (
            ("wall", bare[0], captured[0]),
            ("cpu", bare[1], captured[1]),
        ):
            print(
                f"{label:20s} {clock:4s} forward {plain * 1e3:8.2f} ms   "
                f"capture {recorded * 1e3:8.2f} ms   ratio {recorded / plain:5.2f}x"
            )


if __name__ == "__main__":
    main()

"""Train the default TinyVGG on Fashion-MNIST with the shipped recipe and report how it did.

Prints test accuracy on the full 10,000-image test set, per-class accuracy and the training
wall time. ``--output src/tensorsight/models/bundles/tinyvgg`` rebuilds the shipped bundle
(the defaults of ``TrainConfig`` are its recipe: 64x64 input, 15 epochs, AdamW with a one-cycle
schedule, label smoothing 0.05, random shifts of up to 4%, seed 0).

    python bench/train_tinyvgg.py [--output DIR] [--epochs N] [--input-size S] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

from tensorsight.models.tinyvgg import load_bundle
from tensorsight.training import TrainConfig, train


def main(argv: list[str] | None = None) -> int:
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None, help="where to write the bundle (default: temp)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--input-size", type=int, default=defaults.input_size)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--no-augment", dest="augment", action="store_false")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    output = args.output or tempfile.mkdtemp(prefix="tinyvgg-bench-")
    config = TrainConfig(
        output=output,
        epochs=args.epochs,
        input_size=args.input_size,
        threads=args.threads,
        data_dir=args.data_dir,
        augment=args.augment,
        progress=not args.no_progress,
    )
    result = train(config)
    card = result.card
    metrics, training = card["metrics"], card["training"]
    print(
        f"machine: {os.cpu_count()} CPUs visible, torch threads {training['threads']}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(
        f"TinyVGG {card['architecture']['input_size']} input, {card['parameters']:,} "
        f"parameters, {training['epochs']} epochs, {card['data']['train_count']:,} train images"
    )
    print(
        f"training wall time: {training['training_seconds']:.1f} s "
        f"(+ {training['data_preparation_seconds']:.1f} s reading and preprocessing)"
    )
    print(f"test accuracy: {metrics['test_accuracy']:.4f} on {metrics['test_count']:,} images")
    print("per-class test accuracy:")
    for name, accuracy in metrics["per_class_test_accuracy"].items():
        print(f"  {name:<12} {accuracy:.4f}")
    print(f"written to {result.output}")
    print(
        f"loading the written bundle (torch already imported): median "
        f"{_median_load_seconds(result.output) * 1000:.0f} ms over 5 loads"
    )
    return 0


def _median_load_seconds(directory: str | os.PathLike[str]) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        load_bundle(directory)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    sys.exit(main())

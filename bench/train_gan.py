"""Train the shipped DCGAN recipe on Fashion-MNIST (or measure a written pair) and print its
training time and quality: the Fréchet distance of 10,000 generated images to the 10,000 test
images on the features of our TinyVGG, with the train-vs-test floor, the untrained-generator
ceiling and the class histogram as TinyVGG sees the generated images.

``--output src/tensorsight/models/bundles/dcgan`` rebuilds the shipped pair (the defaults of
``GanConfig`` are its recipe). ``--measure DIR`` re-measures a pair ``tensorsight train-gan``
wrote, without training (its card keeps the training time it recorded).

    python bench/train_gan.py [--output DIR] [--epochs N] [--threads T]
    python bench/train_gan.py --measure src/tensorsight/models/bundles/dcgan
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

from tensorsight.models.dcgan import generator_from_architecture, initialise, load_gan
from tensorsight.training import GanConfig, train_gan
from tensorsight.training.gan import gan_preprocessing
from tensorsight.training.gan_quality import measure_quality


def main(argv: list[str] | None = None) -> int:
    defaults = GanConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=None, help="where to write the pair (default: temp)")
    parser.add_argument(
        "--measure",
        default=None,
        metavar="DIR",
        help="measure the pair in DIR instead of training one",
    )
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--threads", type=int, default=defaults.threads)
    parser.add_argument("--samples", type=int, default=defaults.quality_samples)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"machine: {os.cpu_count()} CPUs visible, torch threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.2f} (1 min) {os.getloadavg()[1]:.2f} (5 min)"
    )
    if args.measure:
        card = _measure(Path(args.measure), args)
    else:
        output = args.output or tempfile.mkdtemp(prefix="dcgan-bench-")
        card = train_gan(
            GanConfig(
                output=output,
                epochs=args.epochs,
                threads=args.threads,
                data_dir=args.data_dir,
                quality_samples=args.samples,
                progress=not args.no_progress,
            )
        ).card
        print(f"written to {output}")
    _report(card)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


def _measure(directory: Path, args: argparse.Namespace) -> dict:
    pair = load_gan(directory)
    card = pair.card
    spec = card["architecture"]["generator"]
    config = GanConfig(
        data_dir=args.data_dir,
        latent_dim=pair.latent_dim,
        image_size=spec["image_size"],
        seed=card["training"]["seed"],
        quality_samples=args.samples,
    )
    torch.manual_seed(config.seed)
    untrained = generator_from_architecture(spec).apply(initialise).eval()
    started = time.perf_counter()
    quality = measure_quality(
        pair.generator, untrained, config, gan_preprocessing(spec["image_size"], spec["channels"])
    )
    print(f"quality measured in {time.perf_counter() - started:.1f} s")
    if json.dumps(quality, sort_keys=True) != json.dumps(card.get("quality"), sort_keys=True):
        print("note: these figures differ from the card's (another machine or samples count)")
    return {**card, "quality": quality}


def _report(card: dict) -> None:
    training = card["training"]
    print(
        f"DCGAN {card['architecture']['generator']['image_size']}px, latent "
        f"{card['latent_dim']}, G {card['parameters']['generator']:,} / D "
        f"{card['parameters']['discriminator']:,} parameters, "
        f"{training['epochs_completed']} epochs = {training['iterations']:,} iterations"
    )
    print(
        f"training wall time: {training['training_seconds']:.1f} s with "
        f"{training['threads']} torch thread(s) "
        f"(+ {training['data_preparation_seconds']:.1f} s reading and resizing)"
    )
    quality = card["quality"]
    if not quality:
        print("no quality figures (not Fashion-MNIST)")
        return
    print(
        f"Fréchet distance on TinyVGG features, {quality['generated_samples']:,} generated vs "
        f"the test set: {quality['frechet_distance']:.2f}"
    )
    print(f"  floor (10,000 training images vs test): {quality['floor_train_vs_test']:.2f}")
    print(f"  ceiling (the untrained generator): {quality['ceiling_untrained_generator']:.2f}")
    print("class histogram of generated images (TinyVGG's predictions):")
    total = sum(quality["class_histogram"].values())
    for name, count in quality["class_histogram"].items():
        print(f"  {name:<12} {count:6,}  {count / total:6.1%}")
    verdict = "yes" if quality["all_classes_at_least_3_percent"] else "NO"
    print(f"every class at least 3%: {verdict} (smallest {quality['smallest_class_fraction']:.1%})")


if __name__ == "__main__":
    sys.exit(main())

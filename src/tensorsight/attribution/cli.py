"""``tensorsight exemplars``: the images of a folder that excite each channel of a model most.

tensorsight exemplars --images photos/ --output photos-exemplars
tensorsight exemplars --model mobilenet_v2 --images photos/ --layers features.3.conv.1.0
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_IMAGE_SUFFIXES = frozenset((".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"))


def add_parser(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Register ``exemplars`` on the top-level parser's sub-parsers and set its ``handler``."""
    parser = subparsers.add_parser(
        "exemplars",
        help="find the images that excite each channel most, cropped to its receptive field",
        description="Run every image of --images through the model and write, for each channel "
        "of the chosen layers, the images that excite it most, cropped to the receptive field "
        "of the cell where it peaked: index.json and one PNG sheet per layer in --output.",
    )
    parser.add_argument(
        "--model",
        default="tinyvgg",
        help="tinyvgg (default), mobilenet_v2, a bundle folder or "
        "package.module:factory, as for `tensorsight serve`",
    )
    parser.add_argument("--weights", default=None, help="weights file for the model")
    parser.add_argument(
        "--images", required=True, type=Path, help="folder of images (searched recursively)"
    )
    parser.add_argument(
        "--output",
        "-o",
        default="exemplars",
        type=Path,
        help="folder to write into (default: exemplars)",
    )
    parser.add_argument("--count", type=int, default=9, help="exemplars per channel (9)")
    parser.add_argument(
        "--layers",
        nargs="+",
        default=None,
        help="layer names or module paths (default: every convolution)",
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.set_defaults(handler=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Compute and write the exemplars; print where they went."""
    from tensorsight.attribution import AttributionError, compute_exemplars
    from tensorsight.models import ModelLoadError, load_model

    try:
        bundle = load_model(args.model, weights=args.weights)
    except ModelLoadError as error:
        print(f"tensorsight exemplars: {error}", file=sys.stderr)
        return 2
    files = sorted(
        path
        for path in args.images.rglob("*")
        if path.suffix.lower() in _IMAGE_SUFFIXES and path.is_file()
    )
    if not files:
        print(f"tensorsight exemplars: no images in {args.images}", file=sys.stderr)
        return 2
    used: list[Path] = []
    try:
        found = compute_exemplars(
            bundle.model,
            _batches(files, bundle, args.batch_size, used),
            count=args.count,
            layers=args.layers,
        )
    except AttributionError as error:
        print(f"tensorsight exemplars: {error}", file=sys.stderr)
        return 2
    found.source = f"{len(used)} images from {args.images}"
    folder = found.save(args.output, mean=bundle.preprocessing.mean, std=bundle.preprocessing.std)
    (folder / "images.txt").write_text("".join(f"{path}\n" for path in used), encoding="utf-8")
    skipped = len(files) - len(used)
    print(
        f"exemplars of {len(found.layers)} layers from {len(used)} images written to "
        f"{folder}/" + (f" ({skipped} unreadable files skipped)" if skipped else "")
    )
    return 0


def _batches(files: list[Path], bundle: Any, size: int, used: list[Path]) -> Iterator[Any]:
    """Model inputs in batches; ``used`` collects the files decoded, in order (image indices)."""
    import torch

    from tensorsight.imaging import ImageError, decode_image

    batch = []
    for path in files:
        try:
            image = decode_image(path.read_bytes())
        except (ImageError, OSError):
            continue
        batch.append(bundle.preprocessing.to_tensor(image))
        used.append(path)
        if len(batch) == size:
            yield torch.cat(batch)
            batch = []
    if batch:
        yield torch.cat(batch)

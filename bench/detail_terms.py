"""What a convolution's detail view costs: the pack, one window's terms, and the eager alternative.

For every conv2d layer of TinyVGG (the shipped bundle) and MobileNetV2 (224x224; its ImageNet
weights when installed, seeded random ones otherwise: sizes and times do not depend on them),
prints for output channel 0:

* the detail pack's bytes (maps, kernel, intermediate maps, window tables),
* one window's ``terms`` pack (patch and products of every input channel) and how long
  ``Explainer.terms`` takes (median and fastest of ``--repeats``: on a shared, loaded machine
  the median also measures the scheduler),
* what sending every window's products with the pack would have cost instead.

Goals: a window's terms within 20 ms (the formula level asks for one per move); eager
products would have to stay under the pack's own size to be worth sending up front.

    python bench/detail_terms.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from PIL import Image

from tensorsight.explanation import Explainer, encode_pack
from tensorsight.imaging import Preprocessing
from tensorsight.models import ModelLoadError, load_model
from tensorsight.models.mobilenet_v2 import MobileNetV2, imagenet_class_names

TERMS_GOAL_MS = 20.0


def explainers() -> list[Explainer]:
    tinyvgg = Explainer.from_bundle(load_model("tinyvgg"))
    try:
        mobilenet = Explainer.from_bundle(load_model("mobilenet_v2"))
    except ModelLoadError:  # no ImageNet weights here: the same layers, seeded random weights
        torch.manual_seed(0)
        mobilenet = Explainer(
            MobileNetV2().eval(),
            preprocessing=Preprocessing(size=(224, 224), channels=3),
            class_names=imagenet_class_names(),
            name="MobileNetV2 (random)",
        )
    return [tinyvgg, mobilenet]


def measure(explainer: Explainer, repeats: int) -> list[tuple[str, int, int, int, float, float]]:
    height, width = explainer.preprocessing.size
    run_id = explainer.run_image(Image.new("RGB", (width, height), (120, 90, 60)))["run_id"]
    rows = []
    for node in explainer.model_info()["nodes"]:
        if node["kind"] != "conv2d":
            continue
        meta, arrays = explainer.detail(run_id, node["id"], 0)
        detail_bytes = len(encode_pack(meta, arrays))
        out_rows, out_cols = arrays["output"].shape
        cin, kh, kw = arrays["kernel"].shape
        row, col = out_rows // 2, out_cols // 2
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            pack = explainer.terms(run_id, node["id"], 0, row, col)
            times.append(time.perf_counter() - start)
        terms_bytes = len(encode_pack(*pack))
        eager_bytes = cin * out_rows * out_cols * kh * kw * 4
        rows.append(
            (
                node["name"],
                detail_bytes,
                terms_bytes,
                eager_bytes,
                statistics.median(times) * 1000,
                min(times) * 1000,
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    kb = 1024
    for explainer in explainers():
        rows = measure(explainer, args.repeats)
        print(f"{explainer.name}: {len(rows)} conv layers, channel 0, window at the centre")
        print(
            f"  {'layer':<28}{'detail pack':>12}{'terms':>9}{'eager products':>16}"
            f"{'terms ms (median, min)':>24}"
        )
        for layer, detail, terms, eager, median, fastest in rows:
            print(
                f"  {layer:<28}{detail / kb:>10.1f}KB{terms / kb:>7.1f}KB{eager / kb:>14.1f}KB"
                f"{median:>14.2f}{fastest:>10.2f}"
            )
        worst = max(row[4] for row in rows)
        eager_total = max(row[3] for row in rows)
        print(
            f"  slowest median window's terms {worst:.2f} ms (goal {TERMS_GOAL_MS:.0f} ms: "
            f"{'met' if worst <= TERMS_GOAL_MS else 'missed'}); the largest eager products "
            f"{eager_total / kb / kb:.2f} MB for one channel's view"
        )


if __name__ == "__main__":
    main()

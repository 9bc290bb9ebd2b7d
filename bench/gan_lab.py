"""GAN Lab speed and convergence: epochs/s, frames/s to a real browser, bytes per frame.

    PYTHONPATH=src python bench/gan_lab.py                 # speed + browser
    PYTHONPATH=src python bench/gan_lab.py --convergence   # and convergence per preset

Epochs/s are best of 3 runs of --epochs epochs on one torch thread (the session's setting),
with no drawing, with the full visual state (``snapshot()``: D surface, manifold, arrows,
KL/JS on 2,000 points) every 10 epochs and every epoch. GAN Lab's ceiling is one epoch per
animation frame: 60/s. The browser figure is a real ``tensorsight serve`` and Chromium playing
the ring preset for --seconds seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

from tensorsight.gan import GanLab

GANLAB_CEILING = 60
# Bits of JS above the real-vs-real floor that still count as converged.
CONVERGED_ABOVE_FLOOR = 0.25


def epochs_per_second(epochs: int, every: int | None) -> float:
    best = 0.0
    for _ in range(3):
        lab = GanLab("ring", seed=0)
        start = time.perf_counter()
        for epoch in range(epochs):
            lab.train_epoch()
            if every and epoch % every == 0:
                lab.snapshot()
        best = max(best, epochs / (time.perf_counter() - start))
    return best


def browser(seconds: float) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    command = [sys.executable, "-m", "tensorsight", "serve", "-p", "0"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = None
        for line in server.stdout:  # type: ignore[union-attr]
            match = re.search(r"serving .* at (http://\S+/)", line)
            if match:
                url = match[1]
                break
        assert url, "the server did not start"
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            page.goto(url + "gan?preset=ring&pretrained=1")
            page.wait_for_selector('body[data-state="ready"]', timeout=60_000)
            page.locator('[data-role="play"]').click()
            page.wait_for_timeout(1000)
            counts = (
                "() => ({...window.tensorsightGan.counts(), "
                "epoch: Number(document.querySelector('.tsg-app').dataset.epoch)})"
            )
            first = page.evaluate(counts)
            page.wait_for_timeout(seconds * 1000)
            last = page.evaluate(counts)
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    frames = last["received"] - first["received"]
    return {
        "frames_per_s": frames / seconds,
        "drawn_per_s": (last["drawn"] - first["drawn"]) / seconds,
        "epochs_per_s": (last["epoch"] - first["epoch"]) / seconds,
        "bytes_per_frame": (last["bytes"] - first["bytes"]) / max(frames, 1),
    }


def convergence(epochs: int, seeds: int) -> None:
    rng = np.random.default_rng(0)
    blob = rng.normal([0.35, 0.6], 0.05, (300, 2)).clip(0, 1)
    blobs = np.concatenate([blob, rng.normal([0.7, 0.3], 0.05, (300, 2)).clip(0, 1)])
    presets: dict[str, object] = {
        "line": "line",
        "gaussians": "gaussians",
        "ring": "ring",
        "disjoint": "disjoint",
        "drawn blob": blob,
        "drawn two blobs": blobs,
    }
    print(
        f"\nfrom scratch, default settings, {epochs} epochs, seeds 0-{seeds - 1}; converged = "
        f"JS within {CONVERGED_ABOVE_FLOOR} bits of the real-vs-real floor"
    )
    for name, spec in presets.items():
        results = []
        for seed in range(seeds):
            lab = GanLab(spec, seed)
            lab.train(epochs)
            results.append(lab.snapshot()["js"])
        floor = lab.floor["js_floor"]
        ok = sum(js <= floor + CONVERGED_ABOVE_FLOOR for js in results)
        shown = " ".join(f"{js:.2f}" for js in results)
        print(f"  {name:16s} converged {ok}/{seeds}   JS {shown}   floor {floor:.3f}")
    for name in ("ring8", "grid25"):
        lab = GanLab(name, 0)
        lab.train(epochs)
        snap = lab.snapshot()
        print(
            f"  {name:16s} seed 0: modes {snap['modes_covered']}/{snap['modes']}, "
            f"good samples {snap['good_share']:.0%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--convergence", action="store_true")
    parser.add_argument("--convergence-epochs", type=int, default=2000)
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"GAN Lab bench: {args.epochs} epochs, best of 3, 1 torch thread, {os.cpu_count()} cores")
    for label, every in (
        ("no drawing", None),
        ("full state every 10 epochs", 10),
        ("full state every epoch", 1),
    ):
        rate = epochs_per_second(args.epochs, every)
        print(f"  {label:28s} {rate:7.0f} epochs/s  ({rate / GANLAB_CEILING:.1f}x GAN Lab's 60/s)")
    if not args.no_browser:
        figures = browser(args.seconds)
        print(
            f"  browser (ring, playing, {args.seconds:.0f} s): "
            f"{figures['frames_per_s']:.1f} frames/s received, "
            f"{figures['drawn_per_s']:.1f} drawn/s, {figures['epochs_per_s']:.0f} epochs/s, "
            f"{figures['bytes_per_frame'] / 1024:.1f} KiB per frame"
        )
    if args.convergence:
        convergence(args.convergence_epochs, args.seeds)


if __name__ == "__main__":
    main()

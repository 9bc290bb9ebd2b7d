"""GAN Lab speed and convergence: epochs/s, frames/s to a real browser, bytes per frame.

    PYTHONPATH=src python bench/gan_lab.py                 # speed + browser
    PYTHONPATH=src python bench/gan_lab.py --convergence   # and convergence per preset
    PYTHONPATH=src python bench/gan_lab.py --no-speed --no-browser --convergence \
        --set r1_weight=0 --presets line,gaussians        # the same with a setting changed
    PYTHONPATH=src python bench/gan_lab.py --no-speed --no-browser --pretrained

Convergence: each preset trained from scratch for --convergence-epochs on --seeds seeds
(--jobs processes); "converged" is JS within CONVERGED_ABOVE_FLOOR bits of the real-vs-real
floor, printed with what such a JS looks like on the drawn blob. --pretrained trains each
shipped start --hold-epochs more, as pressing play does, and prints JS along the way.

Epochs/s are best of 3 runs of --epochs epochs on one torch thread (the session's setting),
with no drawing, with the full visual state (``snapshot()``: D surface, manifold, arrows,
KL/JS on 2,000 points) every 10 epochs and every epoch. GAN Lab's ceiling is one epoch per
animation frame: 60/s. The browser figure is a real ``tensorsight serve`` and Chromium playing
the ring preset for --seconds seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

import numpy as np
import torch

from tensorsight.gan import GanLab, GanSettings, divergences, load_pretrained, pretrained_names
from tensorsight.gan.session import COLLAPSE_SETTINGS

GANLAB_CEILING = 60
# Bits of JS above the real-vs-real floor that still count as converged.
CONVERGED_ABOVE_FLOOR = 0.15


def epochs_per_second(epochs: int, every: int | None, **changes: object) -> float:
    """Epochs/s of one run of the ring (``changes`` to the defaults), a snapshot every ``every``."""
    lab = GanLab("ring", seed=0, **changes)
    start = time.perf_counter()
    for epoch in range(epochs):
        lab.train_epoch()
        if every and epoch % every == 0:
            lab.snapshot()
    return epochs / (time.perf_counter() - start)


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


def bench_presets() -> dict[str, object]:
    """The presets of the convergence table; the drawings are fixed blobs of 300 pen points."""
    rng = np.random.default_rng(0)
    blob = rng.normal([0.35, 0.6], 0.05, (300, 2)).clip(0, 1)
    blobs = np.concatenate([blob, rng.normal([0.7, 0.3], 0.05, (300, 2)).clip(0, 1)])
    return {
        "line": "line",
        "gaussians": "gaussians",
        "drawn blob": blob,
        "drawn two blobs": blobs,
        "ring": "ring",
        "disjoint": "disjoint",
        "ring8": "ring8",
        "grid25": "grid25",
    }


def from_scratch(name: str, seed: int, epochs: int, settings: GanSettings) -> dict[str, float]:
    """JS, its floor and (mixtures) modes covered after ``epochs`` from scratch."""
    torch.set_num_threads(1)
    lab = GanLab(bench_presets()[name], seed, settings=settings)
    lab.train(epochs)
    snap = lab.snapshot()
    return {"js": snap["js"], "floor": lab.floor["js_floor"], "modes": snap.get("modes_covered")}


def scale_line() -> str:
    """What JS means on the blob: the floor and a few known distortions of the real points."""
    lab = GanLab(bench_presets()["drawn blob"], 0)
    real, other = lab.evaluation_real, lab.distribution.sample(2000, torch.Generator())
    centre = other.mean(0)
    shrunk = divergences(real, centre + 0.8 * (other - centre))["js"]
    shifted = divergences(real, other + 0.03)["js"]
    return (
        f"for scale, on the drawn blob (sd 0.054): floor {lab.floor['js_floor']:.3f}, "
        f"fakes shrunk to 0.8 sd {shrunk:.3f}, shifted by 0.03 {shifted:.3f} bits"
    )


def convergence(
    epochs: int, seeds: int, jobs: int, settings: GanSettings, names: list[str]
) -> None:
    changed = {k: v for k, v in settings.to_dict().items() if v != getattr(GanSettings(), k)}
    print(
        f"\nfrom scratch, {'settings ' + str(changed) if changed else 'default settings'}, "
        f"{epochs} epochs, seeds 0-{seeds - 1}; converged = JS within "
        f"{CONVERGED_ABOVE_FLOOR} bits of the real-vs-real floor"
    )
    print(f"  ({scale_line()})")
    runs = [(name, seed) for name in names for seed in range(seeds)]
    with ProcessPoolExecutor(jobs) as pool:
        results = list(
            pool.map(
                from_scratch,
                *zip(*runs, strict=True),
                repeat(epochs),
                repeat(settings),
            )
        )
    for name in names:
        mine = [r for (n, _), r in zip(runs, results, strict=True) if n == name]
        floor = mine[0]["floor"]  # seed 0's: each seed's own differs by a few thousandths
        ok = sum(r["js"] <= floor + CONVERGED_ABOVE_FLOOR for r in mine)
        shown = " ".join(f"{r['js']:.2f}" for r in mine)
        modes = " ".join(str(r["modes"]) for r in mine) if mine[0]["modes"] is not None else ""
        print(
            f"  {name:16s} converged {ok}/{seeds}   JS {shown}   floor (seed 0) {floor:.3f}"
            + (f"   modes {modes}" if modes else "")
        )


def collapse(seeds: int, epochs: int = 500) -> None:
    """\"Make it collapse\" on the 8 Gaussians: modes covered and the fakes' spread per seed."""
    covered, spread = [], []
    for seed in range(seeds):
        lab = GanLab("ring8", seed, settings=COLLAPSE_SETTINGS)
        lab.train(epochs)
        snap = lab.snapshot()
        covered.append(str(snap["modes_covered"]))
        spread.append(f"{float(np.std(snap['fake'], axis=0).mean()):.3f}")
    real = float(np.std(snap["real"], axis=0).mean())
    print(
        f"\nmake it collapse (ring8, {epochs} epochs, seeds 0-{seeds - 1}): modes covered "
        f"{' '.join(covered)} of 8; fakes' sd {' '.join(spread)} (real {real:.3f})"
    )


def pretrained_hold(epochs: int) -> None:
    """Each shipped start: JS (and modes) when loaded and after ``epochs`` more of playing."""
    print(f"\nshipped starts, then {epochs} more epochs (as pressing play does)")
    for name in pretrained_names():
        lab = load_pretrained(name)
        marks = [lab.snapshot()]
        for _ in range(4):
            lab.train(epochs // 4)
            marks.append(lab.snapshot())
        js = " ".join(f"{m['js']:.2f}" for m in marks)
        modes = (
            "   modes " + " ".join(f"{m['modes_covered']}" for m in marks)
            if "modes_covered" in marks[0]
            else ""
        )
        print(f"  {name:10s} JS {js}   floor {lab.floor['js_floor']:.3f}{modes}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--convergence", action="store_true")
    parser.add_argument("--convergence-epochs", type=int, default=3000)
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--presets", default="", help="comma-separated (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="convergence runs at once")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a setting changed"
    )
    parser.add_argument("--pretrained", action="store_true", help="check the shipped starts")
    parser.add_argument("--hold-epochs", type=int, default=3000)
    parser.add_argument("--no-speed", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"GAN Lab bench: 1 torch thread, {os.cpu_count()} cores, load {_load()}")
    if not args.no_speed:
        speed(args.epochs)
    if not args.no_browser:
        figures = browser(args.seconds)
        print(
            f"  browser (ring, playing, {args.seconds:.0f} s): "
            f"{figures['frames_per_s']:.1f} frames/s received, "
            f"{figures['drawn_per_s']:.1f} drawn/s, {figures['epochs_per_s']:.0f} epochs/s, "
            f"{figures['bytes_per_frame'] / 1024:.1f} KiB per frame"
        )
    if args.convergence:
        settings = GanSettings().replace(**dict(_setting(text) for text in args.set))
        names = args.presets.split(",") if args.presets else list(bench_presets())
        convergence(args.convergence_epochs, args.seeds, args.jobs, settings, names)
        collapse(args.seeds)
    if args.pretrained:
        pretrained_hold(args.hold_epochs)
    print(f"load at the end {_load()}")


def speed(epochs: int) -> None:
    """Best of 3 of each, the defaults and GAN Lab's no-penalty D interleaved (load drifts)."""
    print(f"  {epochs} epochs of the ring, best of 3; the defaults, then without R1 (r1_weight=0)")
    for label, every in (
        ("no drawing", None),
        ("full state every 10 epochs", 10),
        ("full state every epoch", 1),
    ):
        rates: dict[float, float] = {0.1: 0.0, 0.0: 0.0}
        for _ in range(3):
            for r1 in rates:
                rates[r1] = max(rates[r1], epochs_per_second(epochs, every, r1_weight=r1))
        rate, plain = rates[0.1], rates[0.0]
        print(
            f"  {label:28s} {rate:7.0f} epochs/s  ({rate / GANLAB_CEILING:.1f}x GAN Lab's "
            f"60/s); without R1 {plain:.0f} ({rate / plain:.2f}x)"
        )


def _load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg()) + " (1/5/15 min)"


def _setting(text: str) -> tuple[str, object]:
    """``name=value`` from the command line; the value as JSON when it parses, else a string."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


if __name__ == "__main__":
    main()

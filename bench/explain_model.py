"""Explaining a model end to end: time, peak memory and first-view payload, TinyVGG and MobileNetV2.

For each model at 224x224 it prints the median CPU time of ``--repeats`` runs, taken in turns, of
a bare forward pass, of one that keeps every layer's output (the floor under any capture) and of
:func:`tensorsight.capture` alone; the median time of ``Explainer.run_image`` (image -> overview
data); the peak resident memory each adds; and the bytes of the first view: ``model_info`` and
overview JSON plus the u8 activation packs of the first ``--channels`` channels of every node
(an upper bound: the page fetches only the layers on screen). With CUDA it also times a
ResNet-50-sized network on the GPU. Goals: capture <= 1.5x a bare forward, MobileNetV2 overview
<= 1 s, first-view payload < 2 MB.

``--keep-freed-memory`` sets the allocator as ``tensorsight serve`` does: glibc keeps freed blocks
for reuse, so a capture reuses warm pages instead of faulting in fresh ones. ``--browser`` also
serves each model and measures, in headless Chromium, what the page really downloads to show an
uploaded image (only the layers on screen).

    python bench/explain_model.py [--repeats 5] [--channels 16] [--threads N]
                                  [--keep-freed-memory] [--browser]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import io
import json
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from tensorsight.capturing import capture
from tensorsight.explanation import Explainer, encode_pack
from tensorsight.explanation.memory import release_freed_memory, tune_allocator
from tensorsight.models import ModelBundle, ModelLoadError, bundle_from_module, load_model
from tensorsight.models.mobilenet_v2 import MobileNetV2, imagenet_class_names
from tensorsight.models.tinyvgg import TinyVGG

MODELS = ("TinyVGG", "MobileNetV2")
CAPTURE_GOAL = 1.5
OVERVIEW_GOAL_S = 1.0
PAYLOAD_GOAL_BYTES = 2_000_000
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@dataclass(frozen=True)
class Figures:
    forward_s: float
    keeping_s: float
    capture_s: float
    run_image_s: float
    peak_mb: dict[str, float | None]
    activation_bytes: int
    info_bytes: int
    overview_bytes: int
    packs_bytes: int
    first_view_gzip_bytes: int

    @property
    def first_view_bytes(self) -> int:
        return self.info_bytes + self.overview_bytes + self.packs_bytes


def tinyvgg_224() -> nn.Module:
    """TinyVGG at 224x224 RGB: ``tensorsight serve --model bench/explain_model.py:tinyvgg_224``."""
    return TinyVGG(in_channels=3, input_size=224, num_classes=10)


def build(name: str) -> tuple[ModelBundle, str]:
    """The bundle to measure and where its weights came from (timings do not depend on them)."""
    if name == "TinyVGG":
        return bundle_from_module(tinyvgg_224(), name="TinyVGG 224x224"), "random weights"
    try:
        return load_model("mobilenet_v2"), "torchvision ImageNet weights"
    except ModelLoadError:
        return bundle_from_module(
            MobileNetV2(), name="MobileNetV2", class_names=imagenet_class_names()
        ), "random weights"


def test_image() -> Image.Image:
    """A 320x240 photo-sized RGB image with smooth structure and noise."""
    rows, cols = np.mgrid[0:240, 0:320]
    rng = np.random.default_rng(0)
    channels = [np.sin(rows / 17.0 + phase) * np.cos(cols / 23.0) for phase in (0.0, 1.0, 2.0)]
    pixels = np.stack(channels, axis=-1) * 100 + 128 + rng.normal(0, 20, (240, 320, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def forward_keeping_outputs(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """A forward pass that keeps every leaf module's output alive, as any capture must.

    Kept tensors cannot be recycled by the allocator, so each layer writes to fresh memory; this
    is the floor under capture's cost, the rest being its bookkeeping.
    """
    kept: list[torch.Tensor] = []
    hooks = [
        module.register_forward_hook(lambda module, args, output: kept.append(output))
        for module in model.modules()
        if not list(module.children())
    ]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for hook in hooks:
            hook.remove()
    return kept


def median_seconds(action: Callable[[], Any], repeats: int) -> float:
    action()  # warm-up: lazy kernels and allocator pools are not what we measure
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_cpu_medians(actions: tuple[Callable[[], Any], ...], repeats: int) -> list[float]:
    """Each action's median CPU seconds (the process's, page faults included), taken in turns.

    CPU time, not wall time, and one after another in every round: on a machine shared with
    other jobs, the ratios between them are what stays true.
    """
    for action in actions:
        action()  # warm-up, as in median_seconds
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for action, taken in zip(actions, times, strict=True):
            start = time.process_time()
            action()
            taken.append(time.process_time() - start)
    return [statistics.median(taken) for taken in times]


def measure(bundle: ModelBundle, repeats: int, channels: int) -> Figures:
    image = test_image()
    x = bundle.preprocessing.to_tensor(image)
    explainer = Explainer.from_bundle(bundle)

    def forward() -> None:
        with torch.no_grad():
            bundle.model(x)

    forward_s, keeping_s, capture_s = interleaved_cpu_medians(
        (
            forward,
            lambda: forward_keeping_outputs(bundle.model, x),
            lambda: capture(bundle.model, x),
        ),
        repeats,
    )
    run_image_s = median_seconds(lambda: explainer.run_image(image), repeats)
    memory = {
        "forward": peak_extra_mb(forward),
        "capture": peak_extra_mb(lambda: capture(bundle.model, x)),
        "run_image": peak_extra_mb(lambda: explainer.run_image(image)),
    }

    graph = capture(bundle.model, x)
    activation_bytes = sum(
        node.activation.numel() * node.activation.element_size() for node in graph.nodes
    )
    info = json.dumps(explainer.model_info()).encode()
    overview_dict = explainer.run_image(image)
    overview = json.dumps(overview_dict).encode()
    pack = encode_pack(
        *explainer.activations(
            overview_dict["run_id"],
            list(overview_dict["nodes"]),
            channels=(0, channels),
            encoding="u8",
        )
    )
    compressed = sum(len(gzip.compress(part, 5)) for part in (info, overview, pack))
    return Figures(
        forward_s,
        keeping_s,
        capture_s,
        run_image_s,
        memory,
        activation_bytes,
        len(info),
        len(overview),
        len(pack),
        compressed,
    )


def peak_extra_mb(action: Callable[[], Any]) -> float | None:
    """Peak resident memory ``action`` adds over what was resident before, in MB.

    Linux resets the process's peak (VmHWM) when "5" is written to /proc/self/clear_refs; torch
    allocates outside Python's allocator, so tracemalloc would not see its tensors. Memory freed
    by earlier runs is handed back to the system first, or reusing it would hide the peak.
    """
    gc.collect()
    release_freed_memory(keep_bytes=0)
    before = _status_kib("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return None
    action()
    return (_status_kib("VmHWM") - before) / 1024


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")


def report(name: str, source: str, figures: Figures) -> None:
    ratio = figures.capture_s / figures.forward_s
    overview_ok = figures.run_image_s <= OVERVIEW_GOAL_S
    mb = 1e6
    print(f"\n{name} at 224x224 ({source})")
    print(f"  bare forward      {figures.forward_s * 1e3:8.1f} ms  {_peak(figures, 'forward')}")
    print(
        f"  forward, keeping every layer's output {figures.keeping_s * 1e3:.1f} ms "
        f"({figures.keeping_s / figures.forward_s:.2f}x forward)"
    )
    print(
        f"  capture           {figures.capture_s * 1e3:8.1f} ms  {_peak(figures, 'capture')}  "
        f"{ratio:.2f}x forward (goal <= {CAPTURE_GOAL}x: {_verdict(ratio <= CAPTURE_GOAL)})"
    )
    print(
        f"  image -> overview {figures.run_image_s * 1e3:8.1f} ms  "
        f"{_peak(figures, 'run_image')}  (goal <= {OVERVIEW_GOAL_S:.0f} s: "
        f"{_verdict(overview_ok)})"
    )
    print(f"  activations kept  {figures.activation_bytes / mb:8.2f} MB (float32, all nodes)")
    # Every node's channels, not just the layers on screen: the page's real first view is what
    # --browser (or bench/explainer_latency.py) measures against the goal.
    print(
        f"  all-node payload  {figures.first_view_bytes / mb:8.2f} MB = model_info "
        f"{figures.info_bytes / mb:.2f} + overview {figures.overview_bytes / mb:.2f} "
        f"+ u8 packs {figures.packs_bytes / mb:.2f}; gzip "
        f"{figures.first_view_gzip_bytes / mb:.2f} MB (upper bound of the first view; "
        f"goal < {PAYLOAD_GOAL_BYTES / mb:.0f} MB applies to what the page fetches)"
    )


def _peak(figures: Figures, phase: str) -> str:
    peak = figures.peak_mb[phase]
    return "peak n/a     " if peak is None else f"peak +{peak:5.1f} MB"


def browser_first_view(name: str) -> str:
    """What the page really downloads to show an uploaded image: the run and the visible packs.

    Serves the model with ``tensorsight serve`` and drives the page in headless Chromium.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "playwright is not installed"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM}"
    spec = "mobilenet_v2" if name == "MobileNetV2" else f"{__file__}:tinyvgg_224"
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorsight", "serve", "--model", spec, "-p", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _served_url(server)
        upload = io.BytesIO()
        test_image().save(upload, format="PNG")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.wait_for_function(
                "['ready', 'idle'].includes(document.body.dataset.state)", timeout=120_000
            )
            before = page.evaluate("document.querySelector('.ts-app').dataset.runId || ''")
            responses: list[Any] = []
            page.on(
                "response",
                lambda response: (
                    responses.append(response) if "/api/runs" in response.url else None
                ),
            )
            page.set_input_files(
                ".ts-file-input",
                files=[
                    {"name": "upload.png", "mimeType": "image/png", "buffer": upload.getvalue()}
                ],
            )
            page.wait_for_function(
                "(before) => { const app = document.querySelector('.ts-app');"
                " return app.dataset.state === 'ready' && app.dataset.runId !== before; }",
                arg=before,
                timeout=120_000,
            )
            page.wait_for_load_state("networkidle")
            body = sum(len(response.body()) for response in responses)
            wire = sum(int(response.headers.get("content-length", 0)) for response in responses)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    ok = body < PAYLOAD_GOAL_BYTES
    return (
        f"{body / 1e6:.2f} MB in {len(responses)} responses, {wire / 1e6:.2f} MB on the wire "
        f"(goal < {PAYLOAD_GOAL_BYTES / 1e6:.0f} MB: {_verdict(ok)})"
    )


def _served_url(server: subprocess.Popen[str]) -> str:
    assert server.stdout is not None
    for line in server.stdout:
        match = re.search(r"serving .* at (http://\S+/)", line)
        if match:
            return match.group(1)
    raise RuntimeError(f"tensorsight serve exited with {server.wait()} before serving")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


class Bottleneck(nn.Module):
    """ResNet's 1x1-3x3-1x1 bottleneck with a projection shortcut when the shape changes."""

    def __init__(self, in_channels: int, width: int, stride: int) -> None:
        super().__init__()
        out_channels = width * 4
        self.conv1 = nn.Conv2d(in_channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_channels, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.shortcut = (
            nn.Identity()
            if stride == 1 and in_channels == out_channels
            else nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + self.shortcut(x))


def resnet50_sized(num_classes: int = 1000) -> nn.Module:
    """ResNet-50's layout (3, 4, 6, 3 bottlenecks; 25.6 M parameters), random weights."""
    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, padding=3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, padding=1),
    ]
    in_channels = 64
    for stage, (blocks, width) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512), strict=True)):
        for index in range(blocks):
            stride = 2 if index == 0 and stage > 0 else 1
            layers.append(Bottleneck(in_channels, width, stride))
            in_channels = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(in_channels, num_classes)]
    return nn.Sequential(*layers).eval()


def cuda_resnet(repeats: int) -> None:
    """ResNet-50-sized on the GPU: capture vs bare forward, and the explainer on CUDA vs CPU
    (image -> overview, the first view's u8 packs; the largest difference of what is shown)."""
    if not torch.cuda.is_available():
        print("\nResNet-50-sized model on CUDA: skipped (no CUDA GPU here)")
        return
    model = resnet50_sized().cuda()
    x = torch.rand(1, 3, 224, 224, device="cuda")

    def forward() -> None:
        with torch.no_grad():
            model(x)
        torch.cuda.synchronize()

    def captured() -> None:
        capture(model, x)
        torch.cuda.synchronize()

    forward_s = median_seconds(forward, repeats)
    capture_s = median_seconds(captured, repeats)
    print(f"\nResNet-50-sized model on {torch.cuda.get_device_name()} at 224x224")
    print(
        f"  bare forward {forward_s * 1e3:.1f} ms, capture {capture_s * 1e3:.1f} ms "
        f"({capture_s / forward_s:.2f}x; activations stay on the GPU)"
    )
    bundle = bundle_from_module(model, name="ResNet-50-sized")
    on_cuda = Explainer.from_bundle(bundle)
    twin = resnet50_sized()
    twin.load_state_dict(model.state_dict())  # the same weights: the same run ids
    on_cpu = Explainer.from_bundle(bundle_from_module(twin, name="ResNet-50-sized"))
    image = test_image()
    nodes = [node["id"] for node in on_cpu.model_info()["nodes"]]
    for name, explained in (("cuda", on_cuda), ("cpu", on_cpu)):
        fresh = (_nudged(image, step) for step in range(repeats + 1))  # a new run each time
        run_s = median_seconds(lambda e=explained, f=fresh: e.run_image(next(f)), repeats)
        run_id = explained.run_image(image)["run_id"]
        packs_s = median_seconds(
            lambda e=explained, r=run_id, n=nodes: e.activations(r, n, channels=(0, 16)), repeats
        )
        print(
            f"  explainer on {name}: image -> overview {run_s * 1e3:.1f} ms, "
            f"first view's u8 packs {packs_s * 1e3:.1f} ms"
        )
    run_id = on_cuda.run_image(image)["run_id"]
    assert on_cpu.run_image(image)["run_id"] == run_id
    (_, cuda_f32), (_, cpu_f32) = (
        explained.activations(run_id, nodes, encoding="f32") for explained in (on_cuda, on_cpu)
    )
    worst = max(
        float(np.abs(cuda_f32[node] - cpu_f32[node]).max() / (np.abs(cpu_f32[node]).max() or 1))
        for node in nodes
    )
    print(
        f"  largest CUDA-CPU difference of an activation, relative to its layer's range: "
        f"{worst:.2e} (goal: float32 tolerance, < 1e-3)"
    )


def _nudged(image: Image.Image, step: int) -> Image.Image:
    """``image`` with one pixel changed: another input, so another run (not the cached one)."""
    copy = image.copy()
    centre = (image.width // 2, image.height // 2)  # where no crop cuts it away
    copy.putpixel(centre, (step % 256, 255 - step % 256, 0))
    return copy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--channels",
        type=int,
        default=16,
        help="channels per node in the first view's activation packs",
    )
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="keep freed memory for reuse, as `tensorsight serve` does, which spares a "
        "capture the page faults of fresh memory",
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="also measure the real first view in headless Chromium",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.keep_freed_memory:
        tune_allocator()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{'freed memory kept, ' if args.keep_freed_memory else ''}"
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; "
        f"medians of {args.repeats} runs"
    )
    for name in MODELS:
        bundle, source = build(name)
        report(name, source, measure(bundle, args.repeats, args.channels))
        if args.browser:
            print(f"  page, upload -> first screen: {browser_first_view(name)}")
    cuda_resnet(args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())

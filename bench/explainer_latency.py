"""How long an upload takes to become a picture, and how many bytes the first view costs.

Starts ``tensorsight serve -p 0`` in a subprocess and measures, over ``--repeats`` uploads of a
640x480 JPEG:

* HTTP (httpx): upload (``POST /api/runs``) -> overview JSON ready, and -> every activation
  the page fetches for its first view (each layer's first 16 channels, u8) received;
* browser (Playwright + Debian Chromium, when the front end is built): the file input's
  ``change`` event -> ``document.body.dataset.state == "ready"`` (the page has rendered the run),
  timed inside the page; plus the bytes received for the first page load and for each upload.

Goals: render within 300 ms of an upload; first view under 300 KB on the wire.

    python bench/explainer_latency.py [--model tinyvgg] [--weights FILE] [--repeats 15]
                                      [--no-browser]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
CHANNELS_PER_LAYER = 16  # what the overview shows per layer before paging (overview.js PAGE)
RENDER_GOAL_MS = 300
FIRST_VIEW_GOAL_KB = 300


@contextmanager
def serve(options: list[str]) -> Iterator[str]:
    """A ``tensorsight serve`` subprocess; yields its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tensorsight", "serve", "-p", "0", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            found = re.search(r"serving .* at (http://\S+/)", "".join(lines))
            if found:
                yield found[1]
                return
            time.sleep(0.05)
        raise SystemExit("tensorsight serve did not start:\n" + "".join(lines))
    finally:
        process.terminate()
        process.wait(timeout=10)


def upload_image() -> bytes:
    """A 640x480 JPEG with some structure (an ellipse on a gradient, with noise)."""
    rng = np.random.default_rng(0)
    ys, xs = np.mgrid[0:480, 0:640].astype(np.float32)
    inside = ((xs - 320) / 200) ** 2 + ((ys - 240) / 150) ** 2 < 1
    gray = 30 + 50 * xs / 640 + 150 * inside + rng.normal(0, 10, xs.shape)
    rgb = np.stack([gray, gray * 0.9, gray * 0.7], -1).clip(0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def first_view_queries(model_info: dict) -> list[dict[str, str]]:
    """The activation requests the overview makes for a new run: one per channel window."""
    windows: dict[str, list[str]] = {}
    for node in model_info["nodes"]:
        shape = node["shape"]
        window = f"0:{min(CHANNELS_PER_LAYER, shape[1])}" if len(shape) == 4 else "all"
        windows.setdefault(window, []).append(node["id"])
    return [
        {
            "nodes": ",".join(ids),
            "encoding": "u8",
            **({} if window == "all" else {"channels": window}),
        }
        for window, ids in windows.items()
    ]


def bench_http(url: str, image: bytes, repeats: int) -> dict[str, float]:
    with httpx.Client(base_url=url, timeout=60) as client:
        queries = first_view_queries(client.get("/api/model").json())
        overview_ms, activations_ms, wire_bytes = [], [], []
        for _ in range(repeats + 1):  # the first run warms the model up and is not counted
            start = time.perf_counter()
            response = client.post("/api/runs", files={"image": ("photo.jpg", image, "image/jpeg")})
            run = response.json()
            overview_done = time.perf_counter()
            received = response.num_bytes_downloaded
            for query in queries:
                pack = client.get(f"/api/runs/{run['run_id']}/activations", params=query)
                pack.raise_for_status()
                received += pack.num_bytes_downloaded
            done = time.perf_counter()
            overview_ms.append(1000 * (overview_done - start))
            activations_ms.append(1000 * (done - start))
            wire_bytes.append(received)
    return {
        "upload -> overview JSON (ms)": statistics.median(overview_ms[1:]),
        "upload -> first-view activations (ms)": statistics.median(activations_ms[1:]),
        "run data for the first view (KB on the wire)": statistics.median(wire_bytes) / 1000,
        "activation requests per run": len(queries),
    }


# Timestamps the file input's change (capture phase, before the app sees it) and the moment the
# app reports "ready", both in page time.
_INSTRUMENT = """() => {
  window.__bench = {};
  window.addEventListener("change", () => { window.__bench.changed = performance.now(); }, true);
  new MutationObserver(() => {
    if (document.body.dataset.state === "ready") window.__bench.ready = performance.now();
  }).observe(document.body, { attributes: true, attributeFilter: ["data-state"] });
}"""


def bench_browser(url: str, image: bytes, repeats: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        photo = Path(folder) / "photo.jpg"
        photo.write_bytes(image)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        transferred: list[int] = []
        page.on("requestfinished", lambda request: transferred.append(_wire_size(request)))
        page.goto(url)
        # "idle": a model without samples shows nothing until the first upload.
        page.wait_for_function(
            "['ready', 'idle'].includes(document.body.dataset.state)", timeout=60_000
        )
        first_load_bytes = sum(transferred)
        page.evaluate(_INSTRUMENT)
        render_ms, upload_bytes = [], []
        for _ in range(repeats + 1):
            transferred.clear()
            page.evaluate("() => { window.__bench = {}; document.body.dataset.state = 'bench'; }")
            page.set_input_files("#ts-file-input", str(photo))
            page.wait_for_function("window.__bench.ready !== undefined", timeout=60_000)
            page.wait_for_load_state("networkidle")
            timing = page.evaluate("window.__bench")
            render_ms.append(timing["ready"] - timing["changed"])
            upload_bytes.append(sum(transferred))
        browser.close()
    return {
        "page: first load, all requests (KB on the wire)": first_load_bytes / 1000,
        "page: upload -> rendered (ms)": statistics.median(render_ms[1:]),
        "page: received per upload (KB on the wire)": statistics.median(upload_bytes) / 1000,
    }


def _wire_size(request: object) -> int:
    sizes = request.sizes()  # type: ignore[attr-defined]
    return int(sizes["responseBodySize"] + sizes["responseHeadersSize"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tinyvgg")
    parser.add_argument("--weights", help="passed to tensorsight serve")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    from tensorsight.web import static_dir

    image = upload_image()
    weights = ["--weights", args.weights] if args.weights else []
    with serve(["--model", args.model, *weights]) as url:
        results = bench_http(url, image, args.repeats)
        if args.no_browser or not (static_dir() / "index.html").is_file():
            print("(browser part skipped: --no-browser or the front end is not built)")
        elif not Path(CHROMIUM).exists():
            print(f"(browser part skipped: {CHROMIUM} is not installed)")
        else:
            results |= bench_browser(url, image, args.repeats)
    print(
        f"model {args.model}, upload {len(image) / 1000:.0f} KB JPEG 640x480, "
        f"medians of {args.repeats} runs after one warm-up; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for name, value in results.items():
        print(f"  {name:<52} {value:8.1f}")
    rendered = results.get("page: upload -> rendered (ms)")
    if rendered is not None:
        print(f"  render goal {RENDER_GOAL_MS} ms: {rendered / RENDER_GOAL_MS:.2f}x of budget")
        first_view = results["page: first load, all requests (KB on the wire)"]
        print(
            f"  first-view goal {FIRST_VIEW_GOAL_KB} KB: "
            f"{first_view / FIRST_VIEW_GOAL_KB:.2f}x of budget"
        )


if __name__ == "__main__":
    main()

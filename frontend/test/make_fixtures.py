"""Write the front end's unit-test fixtures from PyTorch: ``python frontend/test/make_fixtures.py``.

``fixtures/windows.json`` holds real detail packs (input map, window tables, output, argmax)
of small convolutions and poolings, each beside what torch says every window reads: the
unfolded patch of the padded input (``null`` on zero padding) and the pooled value. The JS
tests (``windows.test.js``) check that ``detail/windows.js`` reads the same cells out of the
tables. ``tests/explanation/test_frontend_fixtures.py`` fails when this file is out of date.
"""

from __future__ import annotations

import itertools
import json
import math
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

FIXTURE = Path(__file__).parent / "fixtures" / "windows.json"
SIZE = (7, 9)
# The playground's sliders (frontend/src/playground/index.js), input sizes sampled.
PLAYGROUND = {"n": (1, 2, 3, 5, 7, 10, 15), "p": range(4), "k": range(1, 8), "s": range(1, 5),
              "d": range(1, 4)}


def layers() -> dict[str, nn.Module]:
    """name -> the layer whose detail pack the front end reads (weights from torch's seed)."""
    return {
        "conv-plain": nn.Conv2d(1, 1, 3),
        "conv-stride2-padding1": nn.Conv2d(1, 1, 3, stride=2, padding=1),
        "conv-dilated-rectangular": nn.Conv2d(1, 1, (3, 2), padding=(2, 1), dilation=(2, 3)),
        "conv-same-even": nn.Conv2d(1, 1, 4, padding="same"),
        "max-3x3-stride2-padding1-ceil": nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        "max-dilated": nn.MaxPool2d(2, stride=1, padding=1, dilation=2),
        "avg-2x3": nn.AvgPool2d((2, 3), stride=(1, 2)),
        "adaptive-3x4": nn.AdaptiveAvgPool2d((3, 4)),
    }


def fixtures() -> dict[str, Any]:
    """Every case: the pack's arrays the view reads and torch's answer for each window."""
    from tensorsight import capture
    from tensorsight.explanation.details import detail_pack

    torch.manual_seed(0)
    x = torch.randn(1, 1, *SIZE)
    # PyTorch warns that "same" with an even kernel pads unevenly: that case is here on purpose.
    warnings.filterwarnings("ignore", message="Using padding='same' with even kernel")
    cases = {}
    for name, layer in layers().items():
        graph = capture(layer.eval(), x)
        _, arrays = detail_pack(graph, graph.nodes[1], 0)
        plane = arrays["input"][0] if arrays["input"].ndim == 3 else arrays["input"]
        case = {name: _listed(array) for name, array in arrays.items()
                if name in ("rows", "cols", "output", "argmax")}
        case["input"] = _listed(plane)
        case["kind"] = graph.nodes[1].kind
        if isinstance(layer, nn.Conv2d):
            case["patches"] = _conv_patches(layer, x[0, 0])
        cases[name] = case
    return {"generator": "frontend/test/make_fixtures.py", "cases": cases,
            "playground": _playground_sizes()}


def _playground_sizes() -> list[list[int]]:
    """``[n, p, k, s, d, out, ignored]`` rows: the output size torch gives a 1-D slice of the
    playground's square input, and how many padded cells at the end no window reaches."""
    rows = []
    for n, p, k, s, d in itertools.product(*PLAYGROUND.values()):
        padded = torch.arange(n + 2 * p, dtype=torch.float64)[None, None, None]
        if d * (k - 1) + 1 > n + 2 * p:  # torch refuses a kernel larger than the padded input
            rows.append([n, p, k, s, d, 0, 0])
            continue
        taps = F.unfold(padded, (1, k), dilation=(1, d), stride=(1, s))[0]
        rows.append([n, p, k, s, d, taps.shape[1], n + 2 * p - 1 - int(taps.max())])
    return rows


def _conv_patches(conv: nn.Conv2d, x: torch.Tensor) -> list[list[float | None]]:
    """Per output position (row-major), the input cells under the window; None on padding."""
    (kh, kw), (dh, dw) = conv.kernel_size, conv.dilation
    if conv.padding == "same":
        total_h, total_w = dh * (kh - 1), dw * (kw - 1)
        pads = (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
    else:
        ph, pw = conv.padding
        pads = (pw, pw, ph, ph)
    padded = F.pad(x[None, None].double(), pads, value=math.nan)
    unfolded = F.unfold(padded, (kh, kw), dilation=conv.dilation, stride=conv.stride)[0]
    return [[None if math.isnan(v) else v for v in column]
            for column in unfolded.T.float().tolist()]


def _listed(array: np.ndarray) -> dict[str, Any]:
    return {"dtype": str(array.dtype), "shape": list(array.shape),
            "data": array.reshape(-1).tolist()}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixtures(), separators=(",", ":")) + "\n")
    print(f"wrote {FIXTURE}", file=sys.stderr)


if __name__ == "__main__":
    main()

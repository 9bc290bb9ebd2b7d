"""Write the transposed playground's fixture: `python frontend/test/make_transposed_fixture.py`.

``fixtures/transposed.json`` holds, for settings of the playground's transposed mode
(``frontend/src/playground/transposed.js``), the output size ``F.conv_transpose2d`` gives (``null``
where torch refuses the setting) and the stamps per canvas cell along one axis: the transposed
convolution of ones with a kernel of ones. ``transposed.test.js`` holds the page's arithmetic
against them; ``tests/explanation/test_transposed_fixture.py`` fails when this file is stale.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

FIXTURE = Path(__file__).parent / "fixtures" / "transposed.json"
# The sliders' ranges (transposed.js), input sizes sampled.
SETTINGS = {"n": (1, 2, 4, 5, 8), "k": range(1, 7), "s": range(1, 5), "p": range(4),
            "a": range(4)}


def fixture() -> dict[str, Any]:
    """The sizes and per-axis stamp counts torch computes for every sampled setting."""
    sizes = []
    for n, k, s, p, a in itertools.product(*SETTINGS.values()):
        try:
            out = F.conv_transpose2d(torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k), stride=s,
                                     padding=p, output_padding=a).shape[-1]
        except RuntimeError:
            out = None
        sizes.append({"n": n, "k": k, "s": s, "p": p, "a": a, "out": out})
    counts = [{"n": n, "k": k, "s": s,
               "counts": F.conv_transpose1d(torch.ones(1, 1, n), torch.ones(1, 1, k),
                                            stride=s)[0, 0].round().int().tolist()}
              for n, k, s in itertools.product(SETTINGS["n"], SETTINGS["k"], SETTINGS["s"])]
    return {"sizes": sizes, "counts": counts}


def main() -> int:
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(fixture(), separators=(",", ":")) + "\n")
    print(f"wrote {FIXTURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

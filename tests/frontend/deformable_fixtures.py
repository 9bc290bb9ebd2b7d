"""Write the fixtures the playground's deformable arithmetic is tested against in JavaScript.

    python tests/frontend/deformable_fixtures.py   # rewrites frontend/test/fixtures/deformable.json

Expected values come from ``tensorsight.ops.deform_conv2d`` (float64) with one set of offsets
broadcast to every output position, as the playground uses them.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from tensorsight.ops import deform_conv2d

FIXTURE = (Path(__file__).resolve().parents[2] / "frontend" / "test" / "fixtures"
           / "deformable.json")
ROWS = COLS = 7
K = 3


def fixtures() -> dict:
    """Cases: regular grid, fractional offsets, offsets that leave the map, a large spread."""
    generator = torch.Generator().manual_seed(13)
    image = torch.randint(0, 10, (ROWS, COLS), generator=generator).double()
    kernel = torch.randint(-3, 4, (K, K), generator=generator).double() / 2
    bias = 0.25
    offset_sets = {
        "regular": torch.zeros(K * K, 2, dtype=torch.float64),
        "fractional": torch.rand(K * K, 2, generator=generator, dtype=torch.float64) - 0.5,
        "outside": torch.tensor([[-2.6, -1.2]] * 4 + [[0.0, 0.0]] + [[2.4, 3.7]] * 4,
                                dtype=torch.float64),
        "spread": (torch.rand(K * K, 2, generator=generator, dtype=torch.float64) - 0.5) * 5,
    }
    cases = []
    for name, offsets in offset_sets.items():
        out = ROWS - K + 1
        field = offsets.reshape(1, 2 * K * K, 1, 1).expand(1, 2 * K * K, out, out)
        output = deform_conv2d(image.reshape(1, 1, ROWS, COLS), field.contiguous(),
                               kernel.reshape(1, 1, K, K), torch.tensor([bias]))
        cases.append({"name": name, "offsets": offsets.tolist(),
                      "output": output[0, 0].reshape(-1).tolist()})
    return {"rows": ROWS, "cols": COLS, "k": K, "input": image.reshape(-1).tolist(),
            "kernel": kernel.reshape(-1).tolist(), "bias": bias, "cases": cases}


def main() -> None:
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(fixtures(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()

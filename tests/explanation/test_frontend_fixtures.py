"""The front end's unit tests read fixtures written from torch; they must match today's code."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any

FRONTEND_TEST = Path(__file__).resolve().parents[2] / "frontend" / "test"


def test_the_committed_window_fixtures_are_what_the_generator_writes_today() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_fixtures", FRONTEND_TEST / "make_fixtures.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((FRONTEND_TEST / "fixtures" / "windows.json").read_text())
    # Another CPU may round a convolution's last bit differently: values compare within 1e-6.
    assert _close(committed, json.loads(json.dumps(module.fixtures()))), (
        "frontend/test/fixtures/windows.json is out of date: run "
        "`python frontend/test/make_fixtures.py` and commit it"
    )


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[key], b[key]) for key in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)
    return a == b

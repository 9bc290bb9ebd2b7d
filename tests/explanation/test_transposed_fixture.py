"""The transposed playground's node tests read a fixture written from torch: it must be current."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

FRONTEND_TEST = Path(__file__).resolve().parents[2] / "frontend" / "test"


def test_the_committed_transposed_fixture_is_what_the_generator_writes_today() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_transposed_fixture", FRONTEND_TEST / "make_transposed_fixture.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((FRONTEND_TEST / "fixtures" / "transposed.json").read_text())
    assert committed == json.loads(json.dumps(module.fixture())), (
        "frontend/test/fixtures/transposed.json is out of date: run "
        "`python frontend/test/make_transposed_fixture.py` and commit it"
    )

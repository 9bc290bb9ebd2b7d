"""The playground's deformable arithmetic (JavaScript) agrees with tensorsight.ops (torch).

The fixture the JS tests read is regenerated here and must equal the committed one; then
``node --test frontend/test`` runs them (skipped where Node.js is not installed).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _fixtures_module():
    spec = importlib.util.spec_from_file_location("deformable_fixtures",
                                                  HERE / "deformable_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_fixture_is_what_torch_computes() -> None:
    module = _fixtures_module()
    committed = json.loads(module.FIXTURE.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(module.fixtures()))


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_node_tests_pass() -> None:
    result = subprocess.run(["node", "--test", "frontend/test/"], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr

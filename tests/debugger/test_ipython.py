"""``%load_ext tensorsight`` in a real IPython shell (a subprocess fed cells on stdin)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("IPython")

CELLS = """\
%load_ext tensorsight
import numpy as np
h = np.ones((32, 128)); W = np.ones((64, 10))
h @ W
print("cell after the error ran")
def project(x): return x @ W
project(np.ones((4, 30)))
1/0
[1, 2][5]
%unload_ext tensorsight
h @ W
"""


def run_ipython(cells: str) -> str:
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "IPython",
            "--simple-prompt",
            "--colors=NoColor",
            "--no-banner",
            "--HistoryManager.enabled=False",
        ],
        input=cells,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def output() -> str:
    return run_ipython(CELLS)


def test_the_failing_cell_gets_the_note_and_diagram(output: str) -> None:
    note = (
        "tensorsight: in `h @ W` (line 1), operand shapes 32x128 @ 64x10 disagree: "
        "dim 1 of h (128) != dim 0 of W (64)\n"
        "  h: 32x128 float64\n"
        "  W: 64x10 float64\n"
    )
    assert note in output
    assert "        *128*                   10\n*n* marks the dimensions that disagree" in output


def test_later_cells_still_run(output: str) -> None:
    assert "cell after the error ran" in output


def test_errors_inside_functions_from_earlier_cells(output: str) -> None:
    assert (
        "tensorsight: in `x @ W` (line 1), operand shapes 4x30 @ 64x10 disagree: "
        "dim 1 of x (30) != dim 0 of W (64)"
    ) in output


def test_other_errors_pass_untouched(output: str) -> None:
    assert "ZeroDivisionError: division by zero\n" in output
    assert "IndexError: list index out of range\n" in output
    assert output.count("tensorsight:") == 2


def test_unload_stops_clarifying(output: str) -> None:
    # the last cell fails with the same error, and no third note follows it
    tail = output.rsplit("Cell In[11]", 1)[1]
    assert "ValueError: matmul" in tail and "tensorsight" not in tail


NOTEBOOK_SHELL = """
import xml.etree.ElementTree as ET
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

shell = InteractiveShell.instance()
# what a Jupyter kernel's formatter shows; a terminal shows text/plain only
shell.display_formatter.active_types = ["text/plain", "image/png", "image/svg+xml"]
shell.run_cell("%load_ext tensorsight")
shell.run_cell("import numpy as np; h = np.ones((32, 128)); W = np.ones((64, 10))")
with capture_output() as captured:
    result = shell.run_cell("h @ W")
assert isinstance(result.error_in_exec, ValueError)
svgs = [output.data["image/svg+xml"] for output in captured.outputs]
assert len(svgs) == 1, captured.outputs
root = ET.fromstring(svgs[0])
texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
assert "h: 32x128 float64" in texts and "W: 64x10 float64" in texts, texts
assert "tensorsight: in `h @ W` (line 1)" in captured.stdout + captured.stderr
with capture_output() as captured:
    shell.run_cell("1 / 0")
assert captured.outputs == []
print("ok")
"""


def test_notebook_front_ends_get_the_diagram_as_svg() -> None:
    result = subprocess.run(
        [sys.executable, "-c", NOTEBOOK_SHELL], capture_output=True, text=True, timeout=120
    )
    assert result.stdout.strip().endswith("ok"), result.stdout + result.stderr

"""The debugger and the explainer in a real Jupyter kernel, driven the way a notebook runs cells.

nbclient starts an ipykernel process and executes the cells; the outputs and the widget state are
what JupyterLab would receive.
"""

from __future__ import annotations

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from tensorsight.web import static_dir  # noqa: E402

pytestmark = pytest.mark.slow

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def run_cells(*sources: str, **options) -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbclient.NotebookClient(
        notebook, timeout=180, kernel_name="python3", allow_errors=True, **options
    ).execute()
    return notebook


def test_load_ext_clarifies_a_failing_cell_and_draws_it() -> None:
    notebook = run_cells(
        "%load_ext tensorsight\nimport numpy as np",
        "h = np.ones((32, 128)); W = np.ones((64, 10))\nh @ W",
        "print('next cell runs')",
    )
    failing = notebook.cells[1].outputs
    error = next(output for output in failing if output.output_type == "error")
    assert error.ename == "ValueError" and error.evalue.startswith("matmul: Input operand 1")
    assert (
        "tensorsight: in `h @ W` (line 2), operand shapes 32x128 @ 64x10 disagree: "
        "dim 1 of h (128) != dim 0 of W (64)"
    ) in "\n".join(error.traceback)
    drawings = [output for output in failing if output.output_type == "display_data"]
    assert len(drawings) == 1 and drawings[0].data["image/svg+xml"].lstrip().startswith("<svg")
    assert notebook.cells[2].outputs[0].text == "next cell runs\n"


def test_show_displays_the_explainer_widget_with_the_built_front_end() -> None:
    notebook = run_cells("import tensorsight\ntensorsight.show('tinyvgg')", store_widget_state=True)
    (output,) = notebook.cells[0].outputs
    model_id = output.data[WIDGET_VIEW]["model_id"]
    state = notebook.metadata.widgets[WIDGET_STATE]["state"][model_id]
    assert state["model_module"] == "anywidget"
    assert state["state"]["_esm"] == (static_dir() / "widget.js").read_text(encoding="utf-8")

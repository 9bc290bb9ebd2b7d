"""explain() runs the user's code exactly once, with the same results, variables and errors."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import traceback
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from tensorsight.debugger import explain

torch = pytest.importorskip("torch")


def test_every_call_in_the_block_runs_once() -> None:
    calls: list[tuple[int, ...]] = []

    def counted(value: np.ndarray) -> np.ndarray:
        calls.append(value.shape)
        return value * 2

    x, W = np.ones((2, 3)), np.ones((3, 4))
    with explain(file=io.StringIO()) as shapes:
        y = counted(x) @ W
        z = counted(y).T
    assert calls == [(2, 3), (2, 4)]
    assert z.shape == (4, 2) and float(z[0, 0]) == 12.0
    assert [op.source for op in shapes.statements[0].operands] == [
        "x",
        "counted(x)",
        "W",
        "counted(x) @ W",
    ]


def test_functions_followed_with_calls_true_run_once() -> None:
    calls: list[int] = []

    def layer(h: np.ndarray, W: np.ndarray) -> np.ndarray:
        calls.append(1)
        out = np.maximum(h @ W, 0)
        return out

    x, W = np.ones((2, 3)), np.ones((3, 3))
    with explain(file=io.StringIO(), calls=True) as shapes:
        y = layer(layer(x, W), W)
    assert len(calls) == 2
    assert float(y[0, 0]) == 9.0
    inner = [s for s in shapes.statements if s.statement.function == "layer"]
    assert [s.source for s in inner] == ["out = np.maximum(h @ W, 0)", "return out"]
    assert inner[0].count == 2


def test_block_variables_reach_the_function_frame() -> None:
    base = np.ones(3)
    scale = 2.0
    doomed = 1

    def closure() -> float:
        return scale

    with explain(file=io.StringIO()):
        grown = base * scale
        rows = [grown * k for k in range(2)]  # the comprehension reads the frame's locals
        del doomed
        scale = 5.0  # a cell shared with `closure`
    assert grown.tolist() == [2.0, 2.0, 2.0]
    assert [row.tolist() for row in rows] == [[0.0] * 3, [2.0] * 3]
    assert "doomed" not in locals()
    assert closure() == 5.0


def failing_block(x: np.ndarray, W: np.ndarray) -> tuple[Any, dict[str, Any]]:
    seen: dict[str, Any] = {}
    try:
        with explain(file=io.StringIO()) as shapes:
            h = x @ W
            y = h @ W  # (2, 4) @ (3, 4) fails
    except ValueError as error:
        seen["error"] = error
        seen["h"] = h
    assert "y" not in locals()
    return shapes, seen


def test_errors_propagate_unchanged_and_the_shapes_before_them_are_kept() -> None:
    x, W = np.ones((2, 3)), np.ones((3, 4))
    shapes, seen = failing_block(x, W)
    error = seen["error"]
    assert "matmul" in str(error)
    assert seen["h"].shape == (2, 4)
    last = traceback.extract_tb(error.__traceback__)[-1]
    line = failing_block.__code__.co_firstlineno + 5
    assert (last.name, last.lineno) == ("failing_block", line)
    assert last.line == "y = h @ W  # (2, 4) @ (3, 4) fails"
    assert [s.source for s in shapes.statements] == [
        "h = x @ W",
        "y = h @ W  # (2, 4) @ (3, 4) fails",
    ]
    failed = shapes.statements[1]
    assert [(op.source, op.shape) for op in failed.operands] == [("h", (2, 4)), ("W", (3, 4))]


def test_blocks_that_jump_out_are_refused_before_running() -> None:
    ran: list[int] = []

    def early_return() -> int:
        with explain(file=io.StringIO()):
            ran.append(1)
            return 1
        return 0

    with pytest.raises(SyntaxError, match="cannot contain `return`"):
        early_return()
    assert ran == []


def test_a_debuggers_trace_function_is_restored() -> None:
    events: list[str] = []

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        events.append(event)
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        with explain(file=io.StringIO()):
            total = np.ones(2) + 1
        assert sys.gettrace() is tracer
        events.clear()
        np.linalg.norm(total)  # a Python-level call: the restored tracer sees it
        assert "call" in events
    finally:
        sys.settrace(previous)


def test_code_without_source_runs_unexplained_with_a_note() -> None:
    program = (
        "import io, numpy as np\nfrom tensorsight.debugger import explain\n"
        "out = io.StringIO()\nwith explain(file=out):\n    y = np.ones(3) * 2\n"
        "print(y.sum(), out.getvalue())"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("6.0 explain(): no source for <string>; the block runs")


def test_explain_must_be_used_in_a_with_statement_or_as_a_decorator() -> None:
    with pytest.raises(TypeError, match="with"):
        explain().__enter__()
    with pytest.raises(TypeError, match="generators"):
        explain()(lambda: (yield))


class MLP(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(20, 16)
        self.fc2 = torch.nn.Linear(16, 3)

    def forward(self, x: Any) -> Any:
        h = torch.relu(self.fc1(x))
        return self.fc2(h)


def training_step(model: MLP, x: Any, y: Any, explained: bool) -> list[Any]:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    if explained:
        with explain(file=io.StringIO(), calls=True):
            optimizer.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
    else:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return [parameter.detach().clone() for parameter in model.parameters()]


def test_training_step_with_backward_gives_the_same_parameters() -> None:
    torch.manual_seed(0)
    x, y = torch.randn(8, 20), torch.randint(0, 3, (8,))
    plain, explained = MLP(), MLP()
    explained.load_state_dict(plain.state_dict())
    after_plain = training_step(plain, x, y, explained=False)
    after_explained = training_step(explained, x, y, explained=True)
    for a, b in zip(after_plain, after_explained, strict=True):
        assert torch.equal(a, b)
    assert "forward" not in explained.__dict__  # the instrumented forward was only borrowed


def test_decorator_shows_new_shape_signatures_only() -> None:
    out = io.StringIO()

    @explain(file=out)
    def affine(x: np.ndarray, W: np.ndarray) -> np.ndarray:
        return x @ W + 1

    W = np.ones((3, 2))
    assert affine(np.ones((4, 3)), W).shape == (4, 2)
    first = out.getvalue()
    assert "return x @ W + 1" in first and "explain summary" in first
    affine(np.ones((4, 3)), W)
    assert out.getvalue() == first  # same shapes: nothing new to show
    affine(np.ones((1, 3)), W)
    added = out.getvalue()[len(first) :]
    assert "1x3" in added and "4x3" not in added.split("explain summary")[0]
    records = affine.explanation.statements  # type: ignore[attr-defined]
    assert [(s.operands[0].shape, s.count) for s in records] == [((4, 3), 2), ((1, 3), 1)]


def test_decorated_method_and_silent_records() -> None:
    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(5, 2))

        @explain(show=False)
        def forward(self, x: Any) -> Any:
            return x @ self.weight

    out = Net()(torch.ones(3, 5))
    assert out.shape == (3, 2)


def test_svg_is_well_formed_and_labels_every_operand() -> None:
    x, W = np.ones((2, 3)), np.ones((3, 4), np.float32)
    with explain(show=False) as shapes:
        y = np.tanh(x @ W) > 0.5
    assert y.dtype == bool
    svg = shapes.statements[0].svg()
    root = ET.fromstring(svg)
    texts = [element.text for element in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "y = np.tanh(x @ W) > 0.5" in texts
    for label in ("2x3 float64", "3x4 float32", "2x4 float64", "2x4", "2x4 bool"):
        assert label in texts
    ET.fromstring(f"<div>{shapes._repr_html_()}</div>")


def test_in_a_notebook_each_statement_is_displayed_as_svg(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    display = pytest.importorskip("IPython.display")
    from tensorsight.debugger.render import statements

    shown: list[Any] = []
    monkeypatch.setattr(statements, "in_notebook", lambda: True)  # as inside a kernel
    monkeypatch.setattr(display, "display", shown.append)
    x = np.ones((2, 3))
    with explain():
        y = x.T @ x
        total = y.sum()
    assert total == 18.0
    assert [type(item).__name__ for item in shown] == ["SVG", "SVG"]
    svg = ET.fromstring(shown[0].data)
    assert "x.T @ x" in "".join(svg.itertext())
    assert capsys.readouterr().out.startswith("explain summary: 2 statements")


def test_bare_decorator_prints_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    @explain
    def double(x: np.ndarray) -> np.ndarray:
        return x * 2

    assert double(np.ones(3)).tolist() == [2.0, 2.0, 2.0]
    printed = capsys.readouterr().out
    assert "return x * 2" in printed and "x 3 → 3" in printed


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_colours_around_the_same_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)
    terminal, plain = Terminal(), io.StringIO()
    x, W = np.ones((4, 3)), np.ones((3, 2))
    for out in (terminal, plain):
        with explain(file=out):
            y = np.tanh(x @ W)
    assert y.shape == (4, 2)
    coloured = terminal.getvalue()
    assert "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain.getvalue()


POWER_OUT = io.StringIO()


@explain(file=POWER_OUT)
def power(x: np.ndarray, times: int) -> np.ndarray:
    """A module-level recursive function: its own name must stay a global in its twin."""
    return x if times == 0 else power(x @ x, times - 1)


def test_recursive_decorated_function_reports_once_and_deactivates() -> None:
    from tensorsight.debugger.tracing import active

    assert power(np.eye(2) * 2, 2)[0, 0] == 16.0
    assert POWER_OUT.getvalue().count("explain summary") == 1
    assert active() is None

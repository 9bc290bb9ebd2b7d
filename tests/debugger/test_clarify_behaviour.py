"""How ``clarify()`` treats exceptions: unchanged but for one note, non-tensor errors untouched,
nesting, threads, decorators, and the optional torch recorder."""

from __future__ import annotations

import threading
import traceback
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tensorsight import clarify
from tensorsight.debugger.clarifying import last_clarification


def matmul(h: np.ndarray, w: np.ndarray) -> np.ndarray:
    return h @ w


def failure(function, *args):
    """The exception ``function(*args)`` raises, caught outside any clarify block."""
    try:
        function(*args)
    except BaseException as error:
        return error
    raise AssertionError("expected an exception")


def clarified(function, *args, **options):
    def wrapped():
        with clarify(**options):
            function(*args)

    return failure(wrapped)


def frames_of(error: BaseException) -> list[tuple[str, int, str]]:
    return [
        (entry.filename, entry.lineno, entry.name)
        for entry in traceback.extract_tb(error.__traceback__)
    ]


MATMUL_LINE = matmul.__code__.co_firstlineno + 1
HEADLINE = (
    f"tensorsight: in `h @ w` (line {MATMUL_LINE}), operand shapes 32x128 @ 64x10 "
    "disagree: dim 1 of h (128) != dim 0 of w (64)"
)


def test_exception_is_unchanged_but_for_the_note() -> None:
    h, w = np.ones((32, 128)), np.ones((64, 10))
    plain = failure(matmul, h, w)
    explained = clarified(matmul, h, w, diagram=False)
    assert type(explained) is type(plain)
    assert explained.args == plain.args
    assert str(explained) == str(plain)
    assert explained.__cause__ is None and explained.__context__ is None
    assert not hasattr(plain, "__notes__")
    assert explained.__notes__ == [f"{HEADLINE}\n  h: 32x128 float64\n  w: 64x10 float64"]
    # same frames from the raise point to `matmul`; the clarified run adds only its own caller
    assert frames_of(explained)[-1] == frames_of(plain)[-1]
    assert frames_of(explained)[-1][2] == "matmul"


def test_note_with_diagram_is_the_clarification_drawn_at_the_asked_width() -> None:
    error = clarified(matmul, np.ones((32, 128)), np.ones((64, 10)), width=60)
    (note,) = error.__notes__
    clarification = last_clarification()
    assert clarification is not None
    assert note == clarification.note(width=60)
    assert note.startswith(HEADLINE + "\n")
    assert clarification.diagram().text(60) in note
    assert max(len(line) for line in clarification.diagram().text(60).splitlines()) <= 60


@pytest.mark.parametrize(
    ("function", "args"),
    [
        (lambda: undefined_name, ()),  # noqa: F821 - the NameError is the point
        (lambda a, b: a // b, (1, 0)),
        (lambda items: items[5], ([1, 2],)),
        (lambda a, b: a + b, ("a", 1)),
        (lambda: int("x"), ()),
    ],
    ids=["NameError", "ZeroDivisionError", "list-IndexError", "str-TypeError", "int-ValueError"],
)
def test_errors_that_are_not_tensor_errors_pass_untouched(function, args) -> None:
    plain = failure(function, *args)
    explained = clarified(function, *args)
    assert type(explained) is type(plain) and explained.args == plain.args
    assert not hasattr(explained, "__notes__")


def test_keyboard_interrupt_passes_untouched() -> None:
    def interrupted():
        np.ones(3)
        raise KeyboardInterrupt

    error = clarified(interrupted)
    assert isinstance(error, KeyboardInterrupt)
    assert not hasattr(error, "__notes__")


def test_code_without_source_passes_untouched() -> None:
    namespace = {"np": np}
    error = clarified(exec, "np.ones((2, 3)) @ np.ones((4, 5))", namespace)
    assert isinstance(error, ValueError)
    assert not hasattr(error, "__notes__")


def test_nested_blocks_add_the_note_once() -> None:
    def nested():
        with clarify(diagram=False), clarify(diagram=False):
            matmul(np.ones((32, 128)), np.ones((64, 10)))

    error = clarified(nested, diagram=False)
    assert len(error.__notes__) == 1
    assert error.__notes__[0].startswith(HEADLINE)


def test_context_manager_exposes_its_clarification() -> None:
    block = clarify(diagram=False)
    with pytest.raises(ValueError), block:
        matmul(np.ones((32, 128)), np.ones((64, 10)))
    assert block.clarification is not None
    assert block.clarification.headline() == HEADLINE


@clarify(diagram=False)
def decorated(batch: int, features: int) -> np.ndarray:
    return matmul(np.ones((batch, features)), np.ones((64, 10)))


def test_decorator_keeps_the_function_and_its_results() -> None:
    assert decorated.__name__ == "decorated"
    assert decorated(4, 64).shape == (4, 10)
    error = failure(decorated, 32, 128)
    assert error.__notes__[0].startswith(HEADLINE)


def test_threads_each_get_their_own_note() -> None:
    barrier = threading.Barrier(6)

    def worker(features: int) -> str:
        barrier.wait()
        error = failure(decorated, 8, features)
        return error.__notes__[0].splitlines()[0]

    sizes = [16, 32, 48, 80, 96, 112]
    with ThreadPoolExecutor(max_workers=6) as pool:
        headlines = list(pool.map(worker, sizes))
    for features, headline in zip(sizes, headlines, strict=True):
        assert f"operand shapes 8x{features} @ 64x10 disagree" in headline
        assert f"dim 1 of h ({features}) != dim 0 of w (64)" in headline


def test_recursive_decorated_function_notes_once() -> None:
    @clarify(diagram=False)
    def descend(depth: int) -> np.ndarray:
        if depth == 0:
            return matmul(np.ones((2, 3)), np.ones((4, 5)))
        return descend(depth - 1)

    error = failure(descend, 3)
    assert len(error.__notes__) == 1


def test_torch_recorder_is_removed_after_the_block() -> None:
    torch = pytest.importorskip("torch")
    from torch.overrides import _get_current_function_mode_stack

    with clarify(record_torch=True):
        assert len(_get_current_function_mode_stack()) == 1
        assert (torch.ones(2) + 1).tolist() == [2.0, 2.0]
    assert _get_current_function_mode_stack() == []
    with pytest.raises(RuntimeError), clarify(record_torch=True):
        torch.cat([torch.ones(2, 3).t(), torch.ones(2, 3)])
    assert _get_current_function_mode_stack() == []

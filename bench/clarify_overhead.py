"""What ``clarify()`` costs: nothing while code runs, little when it explains an error.

Prints, for tensorsight and (when it imports) TensorSensor side by side:

* the median ratio of a hot loop of small NumPy / PyTorch ops that raise nothing, run inside the
  block vs plain (goal <= 1.02), with the block around the loop and entered on every iteration;
  and the opt-in torch recorder (a TorchFunctionMode) to show why it is off by default;
* the time from an exception to its finished note, warm (median) and first in a fresh process
  (goal < 20 ms warm, < 100 ms first), with and without the drawing;
* the import time of ``tensorsight`` beyond NumPy (goal < 50 ms).

Run: ``python bench/clarify_overhead.py`` (about a minute; fewer repeats with ``--quick``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import numpy as np

import tensorsight

Block = Callable[[], AbstractContextManager[object]]
# CPU time of this process: on a shared machine, time spent waiting for a core is not ours.
clock = time.process_time
# TensorSensor's figures as the issue quotes them, for reading this script's output:
# clarify overhead ~1.00, note 12 ms warm without drawing / 83 ms with, 250 ms first.


def numpy_step(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.tanh(a @ b + a)


def torch_step(a, b):  # type: ignore[no-untyped-def]
    import torch

    return torch.tanh(a @ b + a)


def loop_seconds(
    step: Callable,
    a,
    b,
    iterations: int,
    block: Block,
    per_call: bool | str,  # type: ignore[type-arg]
) -> float:
    """Seconds for ``iterations`` steps: the block around the loop, around each step
    (``per_call=True``), or decorating the step (``per_call="decorated"``)."""
    if per_call == "decorated":
        step = step if block is nullcontext else block()(step)  # type: ignore[operator]
        start = clock()
        for _ in range(iterations):
            step(a, b)
        return clock() - start
    start = clock()
    if per_call:
        for _ in range(iterations):
            with block():
                step(a, b)
    else:
        with block():
            for _ in range(iterations):
                step(a, b)
    return clock() - start


def ratios(
    step: Callable,
    a,
    b,
    block: Block,
    per_call: bool | str,
    repeats: int,  # type: ignore[type-arg]
    iterations: int,
) -> tuple[float, float]:
    """(median of paired ratios, ratio of the fastest runs) of time inside / time plain.

    Pairs are interleaved with alternating order; on a shared, noisy machine the ratio of the
    fastest runs is the steadier of the two.
    """
    loop_seconds(step, a, b, iterations, block, per_call)  # warm up both paths
    loop_seconds(step, a, b, iterations, nullcontext, per_call)
    plain_times, inside_times = [], []
    for repeat in range(repeats):
        order = (block, nullcontext) if repeat % 2 else (nullcontext, block)
        for context in order:
            seconds = loop_seconds(step, a, b, iterations, context, per_call)
            (plain_times if context is nullcontext else inside_times).append(seconds)
    paired = [inside / plain for inside, plain in zip(inside_times, plain_times, strict=True)]
    return statistics.median(paired), min(inside_times) / min(plain_times)


def overhead_table(repeats: int, iterations: int, tsensor_module) -> None:  # type: ignore[no-untyped-def]
    import torch

    torch.set_num_threads(1)
    cases = {
        "numpy": (numpy_step, np.ones((8, 8)), np.ones((8, 8))),
        "torch": (torch_step, torch.ones(8, 8), torch.ones(8, 8)),
    }
    blocks: dict[str, Block] = {"tensorsight": tensorsight.clarify}
    if tsensor_module is not None:
        blocks["tsensor"] = lambda: tsensor_module.clarify(show=None)
    print(
        "hot loop of small ops that raise nothing: time inside / plain "
        "(median of pairs | fastest runs)"
    )
    for framework, (step, a, b) in cases.items():
        plain = min(loop_seconds(step, a, b, iterations, nullcontext, False) for _ in range(5))
        print(
            f"  {framework}: one plain step (tanh(a @ b + a), 8x8) takes "
            f"{plain / iterations * 1e6:.1f} us"
        )
        for name, block in blocks.items():
            around = ratios(step, a, b, block, False, repeats, iterations)
            each = ratios(step, a, b, block, True, repeats, iterations)
            try:
                median, fastest = ratios(step, a, b, block, "decorated", repeats, iterations)
                decorated = f"{median:.3f} | {fastest:.3f}"
            except TypeError:  # TensorSensor's clarify is no decorator
                decorated = "n/a"
            print(
                f"  {framework:6} {name:12} around loop {around[0]:.3f} | {around[1]:.3f}"
                f"   per iteration {each[0]:.3f} | {each[1]:.3f}   decorated step {decorated}"
            )
    step, a, b = cases["torch"]
    recorded = ratios(
        step, a, b, lambda: tensorsight.clarify(record_torch=True), False, repeats, iterations
    )
    print(
        f"  torch  tensorsight(record_torch=True) around loop {recorded[0]:.3f} | "
        f"{recorded[1]:.3f}   (opt-in TorchFunctionMode: why it is off by default)"
    )


FAILING_SOURCE = """
import numpy as np
import tensorsight

def failing(h, w):
    with {block}:
        h @ w
"""


def note_latency(block: str, setup: str, directory: str, warm: int) -> float:
    """Median seconds from the failing op to the finished note, in this (warm) process.

    The failing code lives in a real file: TensorSensor re-reads (and re-runs) the statement.
    """
    path = f"{directory}/warm_{abs(hash(block))}.py"
    with open(path, "w") as source:
        source.write(setup + "\n" + FAILING_SOURCE.format(block=block))
    namespace: dict[str, object] = {}
    with open(path) as source:
        exec(compile(source.read(), path, "exec"), namespace)
    failing = namespace["failing"]
    h, w = np.ones((32, 128)), np.ones((64, 10))
    times = []
    for _ in range(warm):
        start = clock()
        try:
            failing(h, w)  # type: ignore[operator]
        except ValueError:
            times.append(clock() - start)
    return statistics.median(times)


FIRST_SCRIPT = """
import sys, time
import numpy as np
{setup}
h, w = np.ones((32, 128)), np.ones((64, 10))
start = time.process_time()
try:
    with {block}:
        h @ w
except ValueError as error:
    elapsed = time.process_time() - start
print(elapsed)
"""


def first_latency(setup: str, block: str, directory: str, runs: int) -> float:
    """Median over fresh processes of the first exception-to-note time."""
    path = f"{directory}/first_note.py"
    with open(path, "w") as script:
        script.write(FIRST_SCRIPT.format(setup=setup, block=block))
    times = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, path], capture_output=True, text=True, check=True)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def import_seconds(module: str, runs: int) -> float:
    """Median over fresh processes of importing ``module`` after NumPy is already imported."""
    code = (
        f"import time, numpy; t = time.process_time(); import {module}; "
        f"{'tensorsight.clarify; ' if module == 'tensorsight' else ''}"
        "print(time.process_time() - t)"
    )
    times = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    options = parser.parse_args()
    repeats, iterations, warm, runs = (7, 1000, 20, 3) if options.quick else (21, 2000, 60, 7)
    try:
        import tsensor
    except Exception:
        tsensor = None

    overhead_table(repeats, iterations, tsensor)

    print("\nexception -> finished note (numpy `h @ w`, 32x128 @ 64x10)")
    import tempfile

    with tempfile.TemporaryDirectory() as directory:
        tensorsight_setup = "import tensorsight\ntensorsight.clarify"
        rows = [
            ("tensorsight, with drawing", tensorsight_setup, "tensorsight.clarify()"),
            ("tensorsight, no drawing", tensorsight_setup, "tensorsight.clarify(diagram=False)"),
        ]
        if tsensor is not None:
            rows += [
                ("tsensor, no drawing", "import tsensor", "tsensor.clarify(show=None)"),
                ("tsensor, with drawing", "import tsensor", "tsensor.clarify()"),
            ]
        for label, setup, block in rows:
            chatter = io.StringIO()  # TensorSensor prints a line per note it fails to make
            try:
                with contextlib.redirect_stdout(chatter):
                    warm_ms = note_latency(block, setup, directory, warm) * 1e3
                first_ms = first_latency(setup, block, directory, runs) * 1e3
            except Exception as error:
                print(f"  {label:28} failed: {type(error).__name__}: {str(error)[:60]}")
                continue
            print(f"  {label:28} warm {warm_ms:7.2f} ms   first in a process {first_ms:7.2f} ms")
            if "Can't parse" in chatter.getvalue():
                print(f'  {"":28} (it printed "Can\'t parse": this times its failure path)')

    print("\nimport time beyond NumPy (median of fresh processes)")
    print(f"  tensorsight {import_seconds('tensorsight', runs) * 1e3:7.1f} ms")
    if tsensor is not None:
        print(f"  tsensor     {import_seconds('tsensor', runs) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()

"""How much slower code runs under ``tensorsight.explain()`` (and ``tsensor.explain()``).

Workloads, each timed plain and explained in the same process (median of repeats, after warm-up):

* an MLP training step (784-256-10, batch 64: forward, cross-entropy, backward, SGD step);
* a multi-head self-attention forward (batch 8, 64 tokens, width 128, 4 heads);
* a small NumPy loop (the kind of code tensor-sensor measured 38x on).

Explained variants: ``@explain`` on the step (records accumulate: only new shape signatures are
drawn, the steady state of "leaving it on"), ``with explain():`` around a loop of steps, and
``with explain():`` around every single step (a fresh session each time, so every statement is
drawn again: the worst case). ``tsensor.explain()`` runs if tensor-sensor imports; its failures
are reported, not hidden, and so is how many times each variant ran the model's forward per
call (plain: once). Output goes to a sink (no terminal cost is measured)::

    python bench/explain_overhead.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import tensorsight

STEPS_PER_SAMPLE = 20


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.fc1(x))
        return self.fc2(h)


class SelfAttention(nn.Module):
    def __init__(self, width: int = 128, heads: int = 4) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        d = C // self.heads
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, d).permute(2, 0, 3, 1, 4)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
        mixed = (weights @ v).transpose(1, 2).reshape(B, T, C)
        return self.out(mixed)


torch.manual_seed(0)
mlp = MLP()
optimizer = torch.optim.SGD(mlp.parameters(), lr=0.01)
images, labels = torch.randn(64, 784), torch.randint(0, 10, (64,))
attention = SelfAttention()
tokens = torch.randn(8, 64, 128)
rng = np.random.default_rng(0)
points, weights_np = rng.normal(size=(16, 8)), rng.normal(size=(8, 8))
SINK = io.StringIO()
FORWARD_RUNS = [0]  # how many times the model's forward ran: an explainer must not add any


def count_forward(module: nn.Module, inputs: object) -> None:
    FORWARD_RUNS[0] += 1


mlp.register_forward_pre_hook(count_forward)
attention.register_forward_pre_hook(count_forward)


# The same statements appear in each variant (plain, decorated, inside `with`) on purpose: the
# context-manager form explains the block written at its `with`, so each variant spells it out.
def mlp_step() -> None:
    optimizer.zero_grad()
    logits = mlp(images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    optimizer.step()


@tensorsight.explain(file=SINK, calls=True)
def mlp_step_decorated() -> None:
    optimizer.zero_grad()
    logits = mlp(images)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    optimizer.step()


def mlp_steps_in_block() -> None:
    with tensorsight.explain(file=SINK, calls=True):
        for _ in range(STEPS_PER_SAMPLE):
            optimizer.zero_grad()
            logits = mlp(images)
            loss = F.cross_entropy(logits, labels)
            loss.backward()
            optimizer.step()


def mlp_step_fresh_block() -> None:
    with tensorsight.explain(file=SINK, calls=True):
        optimizer.zero_grad()
        logits = mlp(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()


def mlp_step_tsensor() -> None:
    import tsensor

    with tsensor.explain():
        optimizer.zero_grad()
        logits = mlp(images)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()


def attention_forward() -> None:
    with torch.no_grad():
        attention(tokens)


@tensorsight.explain(file=SINK, calls=True)
def attention_forward_decorated() -> None:
    with torch.no_grad():
        attention(tokens)


def attention_forward_fresh_block() -> None:
    with tensorsight.explain(file=SINK, calls=True), torch.no_grad():
        attention(tokens)


def attention_forward_tsensor() -> None:
    import tsensor

    with tsensor.explain(), torch.no_grad():
        attention(tokens)


def numpy_loop() -> None:
    h = points
    for _ in range(10):
        h = np.tanh(h @ weights_np + 0.1)


@tensorsight.explain(file=SINK)
def numpy_loop_decorated() -> None:
    h = points
    for _ in range(10):
        h = np.tanh(h @ weights_np + 0.1)


def numpy_loop_tsensor() -> None:
    import tsensor

    with tsensor.explain():
        h = points
        for _ in range(10):
            h = np.tanh(h @ weights_np + 0.1)


def per_call(function: Callable[[], None], calls: int) -> Callable[[], None]:
    def run() -> None:
        for _ in range(calls):
            function()

    return run


def median_seconds(run: Callable[[], None], repeats: int, per_sample: int) -> float:
    """Median over ``repeats`` samples of one call's time (a sample runs ``per_sample`` calls)."""
    run()  # warm-up: caches, first drawing of every statement
    samples = []
    for _ in range(repeats):
        SINK.seek(0)
        SINK.truncate()
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) / per_sample)
    return statistics.median(samples)


def tsensor_available() -> bool:
    try:
        import tsensor  # noqa: F401
    except Exception:  # tensor-sensor pulls in matplotlib/graphviz; any failure means "absent"
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tsensor-repeats", type=int, default=3)
    args = parser.parse_args()
    n = STEPS_PER_SAMPLE
    workloads = {
        "MLP training step": (
            per_call(mlp_step, n),
            {
                "@explain (steady state)": (per_call(mlp_step_decorated, n), args.repeats),
                "with explain(): around the loop": (mlp_steps_in_block, args.repeats),
                "with explain(): every step": (per_call(mlp_step_fresh_block, n), args.repeats),
                "tsensor.explain()": (per_call(mlp_step_tsensor, 1), args.tsensor_repeats),
            },
        ),
        "attention forward": (
            per_call(attention_forward, n),
            {
                "@explain (steady state)": (per_call(attention_forward_decorated, n), args.repeats),
                "with explain(): every call": (
                    per_call(attention_forward_fresh_block, n),
                    args.repeats,
                ),
                "tsensor.explain()": (per_call(attention_forward_tsensor, 1), args.tsensor_repeats),
            },
        ),
        "NumPy loop (10 iterations)": (
            per_call(numpy_loop, n),
            {
                "@explain (steady state)": (per_call(numpy_loop_decorated, n), args.repeats),
                "tsensor.explain()": (per_call(numpy_loop_tsensor, 1), args.tsensor_repeats),
            },
        ),
    }
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)  # tsensor's fonts
    have_tsensor = tsensor_available()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} repeats; median time per call")
    for name, (plain, variants) in workloads.items():
        base = median_seconds(plain, args.repeats, n)
        print(f"\n{name}: plain {base * 1e3:.3f} ms")
        for label, (run, repeats) in variants.items():
            if label.startswith("tsensor") and not have_tsensor:
                print(f"  {label:<34} skipped (tensor-sensor does not import)")
                continue
            per_sample = 1 if label.startswith("tsensor") else n
            try:
                seconds = median_seconds(run, repeats, per_sample)
                FORWARD_RUNS[0] = 0
                run()
            except Exception as error:  # report how the explainer fails; it is the result
                print(f"  {label:<34} FAILED: {type(error).__name__}: {str(error)[:60]}")
                continue
            forwards = FORWARD_RUNS[0] / per_sample
            runs = f"  (model forward ran {forwards:g}x per call)" if forwards else ""
            print(f"  {label:<34} {seconds * 1e3:8.3f} ms  {seconds / base:6.2f}x plain{runs}")


if __name__ == "__main__":
    main()

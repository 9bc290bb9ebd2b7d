"""explain() on NumPy-only code (a fresh interpreter: no torch, JAX or rich at import), and JAX."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

NUMPY_SCRIPT = """\
import io, sys
import numpy as np
import tensorsight

assert "rich" not in sys.modules and "torch" not in sys.modules and "jax" not in sys.modules
rng = np.random.default_rng(0)
x = rng.normal(size=(5, 3))
W = rng.normal(size=(3, 4)).astype(np.float32)
counts = np.arange(5)
with tensorsight.explain():
    h = np.tanh(x @ W)
    total = h.sum(axis=1) * counts
    mask = total > 0
print("torch" in sys.modules, "jax" in sys.modules, mask.shape)
"""


def test_numpy_only_script_at_module_level(tmp_path: Path) -> None:
    script = tmp_path / "numpy_only.py"
    script.write_text(NUMPY_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "80"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == textwrap.dedent("""\
        numpy_only.py:11 in <module>  [numpy float64]
        h = np.tanh(x @ W)
                    ^ 5x3 float64
                        ^ 3x4 float32
                    └───┘ 5x4 float64
            └────────────┘ 5x4

        numpy_only.py:12 in <module>  [numpy float64]
        total = h.sum(axis=1) * counts
                ^ 5x4 float64   └────┘ 5 int64
                └───────────┘ 5
                └────────────────────┘ 5 float64

        numpy_only.py:13 in <module>  [numpy bool]
        mask = total > 0
               └───┘ 5
               └───────┘ 5 bool

        explain summary: 3 statements, 3 shape signatures
          numpy_only.py:11  h = np.tanh(x @ W)
              x 5x3 float64, W 3x4 float32 → 5x4
          numpy_only.py:12  total = h.sum(axis=1) * counts
              h 5x4 float64, counts 5 int64 → 5 float64
          numpy_only.py:13  mask = total > 0
              total 5 → 5 bool
        False False (5,)
        """)


def jax_block(out: io.StringIO) -> object:
    jnp = pytest.importorskip("jax.numpy")
    from tensorsight.debugger import explain

    x = jnp.ones((4, 3))
    W = jnp.ones((3, 2))
    with explain(file=out) as shapes:
        y = jnp.maximum(x @ W, 0.0).T
    assert y.shape == (2, 4)
    return shapes


def test_jax_arrays() -> None:
    out = io.StringIO()
    jax_block(out)
    line = jax_block.__code__.co_firstlineno + 7
    assert out.getvalue() == textwrap.dedent(f"""\
        test_explain_frameworks.py:{line} in jax_block  [jax float32]
        y = jnp.maximum(x @ W, 0.0).T
                        ^ 4x3
                            ^ 3x2
                        └───┘ 4x2
            └─────────────────────┘ 4x2
            └───────────────────────┘ 2x4

        explain summary: 1 statement, 1 shape signature
          test_explain_frameworks.py:{line}  y = jnp.maximum(x @ W, 0.0).T
              x 4x3, W 3x2 → 2x4
        """)


def test_jit_traces_the_explained_function_once() -> None:
    jax = pytest.importorskip("jax")
    jnp = pytest.importorskip("jax.numpy")
    from tensorsight.debugger import explain

    out = io.StringIO()
    explained = explain(file=out)

    @jax.jit
    @explained
    def layer(x: object, w: object) -> object:
        return jnp.tanh(x @ w)

    for _ in range(3):
        assert layer(jnp.ones((2, 3)), jnp.ones((3, 4))).shape == (2, 4)
    # Shapes are recorded while JAX traces; compiled calls run no Python at all.
    assert [(s.source, s.operands[-1].shape, s.count) for s in explained.statements] == [
        ("return jnp.tanh(x @ w)", (2, 4), 1)
    ]
    assert out.getvalue().count("explain summary") == 1

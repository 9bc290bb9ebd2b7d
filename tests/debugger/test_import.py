"""``import tensorsight`` loads NumPy at most; the debugger loads nothing heavier, even when it
explains an error with a text diagram (rich only when a rich renderable is printed)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

PROBE = """
import json, sys
before = set(sys.modules)
exec(compile(open(sys.argv[1]).read(), sys.argv[1], "exec"))
new = {name.partition(".")[0] for name in set(sys.modules) - before}
stdlib = set(sys.stdlib_module_names)
print(json.dumps(sorted(n for n in new if n not in stdlib and not n.startswith("_sysconfigdata"))))
"""


def third_party_modules_after(code: str, directory: Path) -> set[str]:
    """Top-level non-stdlib packages a fresh interpreter imported while running ``code``."""
    path = directory / "probe_target.py"
    path.write_text(textwrap.dedent(code))
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_import_tensorsight_imports_numpy_at_most(tmp_path: Path) -> None:
    assert third_party_modules_after("import tensorsight", tmp_path) <= {"tensorsight", "numpy"}


def test_the_debugger_imports_numpy_only(tmp_path: Path) -> None:
    code = "import tensorsight\ntensorsight.clarify\n"
    assert third_party_modules_after(code, tmp_path) <= {"tensorsight", "numpy"}


def test_explaining_an_error_with_a_text_diagram_needs_no_rich(tmp_path: Path) -> None:
    code = """
    import numpy as np
    import tensorsight

    h, w = np.ones((2, 3)), np.ones((4, 5))
    try:
        with tensorsight.clarify():
            h @ w
    except ValueError as error:
        assert error.__notes__[0].startswith("tensorsight: in `h @ w`"), error.__notes__
        assert "┌" in error.__notes__[0]  # the text diagram is part of the note
    """
    assert third_party_modules_after(code, tmp_path) == {"tensorsight", "numpy"}


def test_printing_the_rich_renderable_is_what_imports_rich(tmp_path: Path) -> None:
    code = """
    import sys
    import numpy as np
    import tensorsight

    block = tensorsight.clarify()
    try:
        with block:
            np.ones((2, 3)) + np.ones(4)
    except ValueError:
        pass
    assert block.clarification is not None and "rich" not in sys.modules
    from rich.console import Console
    Console(file=open("/dev/null", "w")).print(block.clarification)
    """
    assert "rich" in third_party_modules_after(code, tmp_path)

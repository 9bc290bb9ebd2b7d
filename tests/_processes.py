"""Running a server as a subprocess in a test: start it, read its output until it says where
it listens, stop it afterwards (killed if it ignores SIGTERM)::

    with serving([sys.executable, "-m", "http.server", "0"], r"port (\\d+)") as port:
        ...
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def serving(
    command: list[str],
    pattern: str,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 120,
) -> Iterator[str]:
    """Yield the first group of ``pattern`` in the command's output; fail with that output."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd
    )
    lines: list[str] = []
    # Drain the pipe in a thread: the server must never block on a full pipe.
    threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True).start()
    wanted = re.compile(pattern)
    try:
        deadline = time.monotonic() + timeout_s
        found = None
        while found is None and time.monotonic() < deadline and process.poll() is None:
            found = next((m[1] for m in map(wanted.search, list(lines)) if m), None)
            time.sleep(0.05)
        assert found, f"`{' '.join(command)}` never printed {pattern!r}:\n{''.join(lines)}"
        yield found
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

"""Every debugger test runs in strict mode: a bug inside ``clarify()`` fails the test instead of
silently leaving the user without a note."""

from __future__ import annotations

import pytest

from tensorsight.debugger.clarifying.strict import STRICT


@pytest.fixture(autouse=True)
def strict_debugger(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STRICT, "1")

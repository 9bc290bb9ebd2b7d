"""Opt-in: remember the arguments of the last torch call, to see operands that are call results.

A ``TorchFunctionMode`` sees every torch function with its real arguments. Keeping only the last
call costs one Python function call per torch op (see ``bench/clarify_overhead.py``), which is
why ``clarify()`` leaves it off unless asked (``clarify(record_torch=True)``).
Imported only when asked for, so torch is never imported by tensorsight itself.
"""

from __future__ import annotations

from typing import Any

from torch.overrides import TorchFunctionMode


class LastCallRecorder(TorchFunctionMode):
    """Keeps ``(function, args, kwargs)`` of the most recent torch call in ``last``.

    >>> import torch
    >>> with LastCallRecorder() as recorder:
    ...     _ = torch.ones(2) + 1
    >>> recorder.last[0].__name__
    'add'
    """

    def __init__(self) -> None:
        super().__init__()
        self.last: tuple[Any, tuple[Any, ...], dict[str, Any]] | None = None

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        self.last = (func, args, kwargs)
        return func(*args, **kwargs)

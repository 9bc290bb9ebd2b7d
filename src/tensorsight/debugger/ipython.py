"""``%load_ext tensorsight``: clarify the tensor errors of every IPython/Jupyter cell.

IPython runs each cell and, when it raises, calls the shell's custom exception handler if one is
set for that exception type. Ours adds the tensorsight note, shows the usual traceback (with the
note appended when this IPython's traceback printer does not print notes), and where the front
end shows SVG (Jupyter) also displays the diagram as SVG. Nothing runs while cells succeed.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from tensorsight.debugger.clarifying import explain_error

_SAVED = "_tensorsight_saved_custom_exc"


def _shows_svg(shell: Any) -> bool:
    """True where the front end displays SVG (Jupyter), False in a terminal IPython."""
    return "image/svg+xml" in shell.display_formatter.active_types


def _handle(
    shell: Any,
    etype: type[BaseException],
    value: BaseException,
    tb: TracebackType | None,
    tb_offset: int | None = None,
) -> None:
    clarification = explain_error(value)
    formatter = shell.InteractiveTB
    stb = formatter.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    if clarification is not None and clarification.headline() not in formatter.stb2text(stb):
        stb = [*stb, clarification.note()]  # this IPython does not print exception notes
    shell._showtraceback(etype, value, stb)
    if clarification is not None and _shows_svg(shell):
        from tensorsight.debugger.render.notebook import display

        display(clarification.diagram())


def load_ipython_extension(shell: Any) -> None:
    """Install the cell error handler (``%load_ext tensorsight``)."""
    if not hasattr(shell, _SAVED):
        setattr(shell, _SAVED, (shell.custom_exceptions, shell.CustomTB))
    shell.set_custom_exc((Exception,), _handle)


def unload_ipython_extension(shell: Any) -> None:
    """Put back whatever handler was there before (``%unload_ext tensorsight``)."""
    saved = getattr(shell, _SAVED, None)
    if saved is not None:
        shell.custom_exceptions, shell.CustomTB = saved
        delattr(shell, _SAVED)

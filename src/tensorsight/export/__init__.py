"""``tensorsight export``: the explainer as a static site that any static host serves.

>>> from tensorsight.export import export_site   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tensorsight._lazy import lazy_attributes

if TYPE_CHECKING:
    from tensorsight.export.site import ExportReport, export_site

__all__ = ["ExportReport", "export_site"]

# `tensorsight --help` imports this package to register `export`: keep NumPy and torch lazy.
__getattr__ = lazy_attributes(
    __name__, {"ExportReport": "tensorsight.export.site", "export_site": "tensorsight.export.site"}
)

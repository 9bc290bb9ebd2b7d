"""The built front end: the page and the Jupyter widget module, shipped inside the package.

Sources live in ``frontend/`` at the repository root; ``npm run build`` there writes this
package's ``static/`` folder, which is committed so that installing needs no node.
"""

from __future__ import annotations

from pathlib import Path


def static_dir() -> Path:
    """The folder holding ``index.html`` and the bundled assets.

    >>> (static_dir() / "index.html").name
    'index.html'
    """
    return Path(__file__).parent / "static"

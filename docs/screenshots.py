"""Make the README's screenshots: the page at 1440x900 and the explainer inside JupyterLab.

Both come from the browser tests that check those very views (a real ``tensorsight serve`` and
a real JupyterLab, in headless Chromium), so a screenshot is only written when its test passes::

    python docs/screenshots.py   # docs/screenshot-page.png, docs/screenshot-jupyterlab.png
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = [
    "tests/browser/test_first_impressions.py::test_the_whole_tinyvgg_fits_a_laptop_screen",
    "tests/jupyter/test_jupyterlab.py::test_show_draws_the_explainer_inside_the_notebook",
]
# screenshot the tests write -> file under docs/
KEPT = {
    "first_impression_1440x900.png": "screenshot-page.png",
    "jupyterlab.png": "screenshot-jupyterlab.png",
}


def main() -> int:
    """Run the tests with TS_SCREENSHOTS set, then copy the chosen screenshots into docs/."""
    with tempfile.TemporaryDirectory(prefix="tensorsight-shots-") as folder:
        env = {**os.environ, "TS_SCREENSHOTS": folder,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"),
                                                           os.environ.get("PYTHONPATH")]))}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *TESTS], cwd=ROOT, env=env, check=False)
        if done.returncode != 0:
            print("screenshots: a test failed; docs/ left as it was", file=sys.stderr)
            return done.returncode
        for made, kept in KEPT.items():
            shutil.copyfile(Path(folder) / made, ROOT / "docs" / kept)
            print(f"wrote docs/{kept}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

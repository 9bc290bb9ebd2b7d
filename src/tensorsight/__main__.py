"""``python -m tensorsight`` is the ``tensorsight`` command."""

from tensorsight.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Where a model runs: one rule for ``serve``, ``train``, :func:`tensorsight.show` and
:func:`tensorsight.capture`.

``auto`` picks the first available of cuda, mps, cpu; naming a device this computer lacks is a
:class:`DeviceError` (a ``ValueError``) whose text is the one line to show. Importing this module
imports no torch, so ``tensorsight --help`` stays fast.

>>> resolve_device("cpu")
'cpu'
"""

from __future__ import annotations

import argparse

DEVICES = ("auto", "cpu", "cuda", "mps")


class DeviceError(ValueError):
    """A device name that is unknown or not available here; ``str()`` says which."""


def available_devices() -> dict[str, bool]:
    """Each device tensorsight can run on, in the order ``auto`` tries them, and whether it is here.

    >>> available_devices()["cpu"]
    True
    """
    import torch

    return {
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
        "cpu": True,
    }


def resolve_device(name: str = "auto") -> str:
    """``auto`` -> the first available of cuda, mps, cpu; another name must be available.

    >>> resolve_device("auto") in ("cuda", "mps", "cpu")
    True
    """
    if name not in DEVICES:
        raise DeviceError(f"device must be one of {', '.join(DEVICES)}, not {name!r}")
    available = available_devices()
    if name == "auto":
        return next(device for device, present in available.items() if present)
    if not available[name]:
        present = ", ".join(device for device, here in available.items() if here)
        raise DeviceError(f"device {name} is not available on this computer (it has: {present})")
    return name


def describe_device(device: str) -> str:
    """The device as a start-up line names it: ``cuda (NVIDIA H200)``, ``cpu``.

    >>> describe_device("cpu")
    'cpu'
    """
    if device == "cuda":
        import torch

        return f"cuda ({torch.cuda.get_device_name()})"
    return device


def add_device_option(parser: argparse.ArgumentParser) -> None:
    """``--device``, shared by the commands that run a model.

    >>> parser = argparse.ArgumentParser()
    >>> add_device_option(parser)
    >>> parser.parse_args([]).device
    'auto'
    """
    parser.add_argument(
        "--device",
        default="auto",
        choices=DEVICES,
        help="where the model runs (default: auto, the first available of cuda, mps, cpu)",
    )

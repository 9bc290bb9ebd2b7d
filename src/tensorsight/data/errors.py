"""Errors the dataset readers raise; each message says what is wrong and what to do."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset that cannot be read: corrupt, inconsistent or empty. ``str()`` says why."""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset that is not where it was looked for; ``str()`` says how to install it."""

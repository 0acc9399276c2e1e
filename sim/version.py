"""The installed package's version, for run.json, manifests and reports."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def package_version() -> str:
    """continuum's version as installed, or ``0.0.0`` when run from a source tree never installed."""
    try:
        return version("continuum")
    except PackageNotFoundError:
        return "0.0.0"

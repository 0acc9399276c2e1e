"""The engine's compiled modules: used only while they match their source.

On install, ``setup.py`` compiles the modules the engine spends its time in (:data:`COMPILED`) with
mypyc, where a C compiler is at hand, into extension modules beside their source; Python then
imports those instead of the ``.py`` files. They run the same code, 1.4-1.5 times as fast, and give
the same numbers. The build writes each source's hash to :data:`BUILD_RECORD`.

After an edit (or a ``git pull``) a compiled module no longer matches its source, and the compiled
code would silently run the old model. :func:`run_source_if_stale`, run when ``sim`` is imported,
then has every compiled module imported from its source instead, and says so once;
``pip install -e .`` compiles them again. ``CONTINUUM_PURE_PYTHON=1`` in the environment runs the
source always (and keeps ``setup.py`` from compiling), for debugging and profiling.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).parent
COMPILED = ("engine", "records")
"""The modules compiled on install, in ``sim``: the event callbacks and what they write to."""
BUILD_RECORD = "compiled.json"
"""Written by the build beside the modules: ``{module: sha256 of the source compiled}``."""
PURE_PYTHON = "CONTINUUM_PURE_PYTHON"
NOT_ASKED = ("", "0", "false", "no", "off")
"""Values of :data:`PURE_PYTHON` that do not ask for the source (any other does, ``1`` say), in any case."""


def pure_python_asked() -> bool:
    """Whether ``CONTINUUM_PURE_PYTHON`` asks for the engine's source (set, and not to ``0``, ``false``, ...)."""
    return os.environ.get(PURE_PYTHON, "").strip().lower() not in NOT_ASKED


def source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def compiled_files(package: Path = PACKAGE) -> dict[str, Path]:
    """The compiled modules present, by name, for this Python."""
    found = {}
    for name in COMPILED:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            if (package / f"{name}{suffix}").exists():
                found[name] = package / f"{name}{suffix}"
                break
    return found


def stale(package: Path = PACKAGE) -> list[str]:
    """The compiled modules whose source changed since the build (all of them when the record is missing)."""
    present = compiled_files(package)
    if not present:
        return []
    try:
        built_from = json.loads((package / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return sorted(present)
    if not isinstance(built_from, dict):   # not the build's record: nothing in it can vouch for a module
        return sorted(present)
    return [name for name in present if built_from.get(name) != source_hash(package / f"{name}.py")]


def is_compiled(module: ModuleType) -> bool:
    """Whether ``module`` runs compiled code (else its Python source)."""
    return not str(getattr(module, "__file__", "")).endswith(".py")


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Imports the named modules of ``sim`` from their ``.py`` files, past any compiled module beside them."""

    def __init__(self, names: Sequence[str], package: Path):
        self.sources = {f"{__package__}.{name}": package / f"{name}.py" for name in names}

    def find_spec(self, fullname, path, target=None):
        source = self.sources.get(fullname)
        return importlib.util.spec_from_file_location(fullname, source) if source else None


def run_source_if_stale(package: Path = PACKAGE) -> str | None:
    """Have the compiled modules imported from source if any is stale or ``CONTINUUM_PURE_PYTHON`` is set; the
    reason, or None when the compiled modules (if any) are used."""
    if pure_python_asked():
        reason = f"{PURE_PYTHON} is set"
    else:
        changed = stale(package)
        if not changed:
            return None
        reason = f"sim.{', sim.'.join(changed)} changed since compiled"
        warnings.warn(f"{reason}: running the engine as Python source, 1.4-1.5 times slower "
                      "(`pip install -e .` compiles it again)", stacklevel=2)
    # all of them, not only the stale: compiled modules call each other's classes directly
    if not any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
        sys.meta_path.insert(0, _SourceFirst(COMPILED, package))
    return reason


def engine_build(package: Path = PACKAGE) -> str:
    """How the engine runs in this process, for ``run.json`` and ``continuum --version``."""
    if pure_python_asked() or not compiled_files(package) or stale(package):
        return "Python source"
    return "compiled (mypyc)"

"""The build: everything is in pyproject.toml but the compiled engine modules, which need code to list.

Where mypyc and a C compiler are at hand, the modules of ``sim.compiled.COMPILED`` are compiled
beside their source (1.4-1.5 times as fast, the same numbers); where not, or with
``CONTINUUM_PURE_PYTHON=1``, the package installs as pure Python and runs just the same. The
sources' hashes go to ``sim/compiled.json``, so that ``sim`` runs the source of any module edited
since (see ``sim/compiled.py``).
"""

import json
import runpy
import sys
from pathlib import Path

from setuptools import setup

PACKAGE = Path(__file__).parent / "sim"
METADATA_ONLY = {"egg_info", "dist_info"}
"""What pip asks before it builds: compiling then would only be thrown away (it took a minute each time)."""
compiled = runpy.run_path(str(PACKAGE / "compiled.py"))   # not `import sim`: its dependencies may be missing here


def compiled_modules() -> list:
    if METADATA_ONLY.intersection(sys.argv[1:]):
        return []
    for old in compiled["compiled_files"](PACKAGE).values():   # a failed build must not leave old code to run
        old.unlink()
    if compiled["pure_python_asked"]():
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        return []
    names = compiled["COMPILED"]
    (PACKAGE / compiled["BUILD_RECORD"]).write_text(json.dumps(
        {name: compiled["source_hash"](PACKAGE / f"{name}.py") for name in names}, indent=1) + "\n")
    extensions = mypycify([f"sim/{name}.py" for name in names], group_name="sim_engine")
    for extension in extensions:
        extension.optional = True   # no C compiler: a warning, and the pure-Python package
    return extensions


setup(ext_modules=compiled_modules())

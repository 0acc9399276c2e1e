"""The ``continuum`` command's entry point: Ctrl-C is answered from the first moment.

The command line imports pandas, SciPy and the model (a second or two); an interrupt then would
print a traceback from deep inside an import. This module is light (``import sim`` loads its
names on first use), so the heavy import happens here, where Ctrl-C ends with one line.
"""

from __future__ import annotations

import os
import sys

INTERRUPTED, TERMINATED = 130, 143  # as in sim.cli, which cannot be imported yet


def main() -> None:
    """Load the command line and run it; Ctrl-C while loading exits 130 with one line."""
    try:
        from .cli import main as command_line

        command_line()
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        _end(INTERRUPTED)
    except SystemExit as done:
        if done.code in (INTERRUPTED, TERMINATED):
            _end(done.code)
        raise


def _end(status: int) -> None:
    """Exit at once with ``status``, the clean-up done: a Ctrl-C that landed inside an extension
    module's own Python code (SciPy's, while importing) marks the interpreter, which would
    otherwise end by SIGINT at exit whatever status the command chose."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
